import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express, { type RequestHandler } from 'express';
import fc from 'fast-check';
import { pino } from 'pino';
import { errorHandler } from '../../../src/http/error-handler.ts';
import { loadOpenApiDocument, type OpenApiDocument } from '../../../src/http/openapi-document.ts';
import { openApiValidator, plainJsonBodyChecks, requestValidation } from '../../../src/http/request-validation.ts';

const SPEC = loadOpenApiDocument().spec;

interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** An app with express's JSON parser, `validation`, and a last handler that echoes the body it was given. */
async function listen(validation: RequestHandler): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.set('query parser', 'simple');
  app.use(express.json({ limit: '256kb', strict: true, type: ['application/json', 'application/*+json'] }));
  app.use(validation);
  app.use((req, res) => {
    res.json({ passed: true, body: req.body as unknown, params: req.params, query: req.query });
  });
  app.use(errorHandler(pino({ level: 'silent' })));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function send(baseUrl: string, method: string, path: string, contentType: string | undefined, body: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    const request = http.request(`${baseUrl}${path}`, { method, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

const anything = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 8 }), fc.constant([]), fc.constant({}));
const validText = (maxLength: number) => fc.oneof(fc.constantFrom('a', 'x'.repeat(maxLength)), fc.string({ minLength: 1, maxLength: 12 }));
const invalidText = (maxLength: number) => fc.oneof(fc.constantFrom('', 'x'.repeat(maxLength + 1)), anything);
const validNames = fc.array(validText(30), { maxLength: 3 });
const invalidNames = fc.oneof(fc.constant(['a', '']), fc.constant(Array.from({ length: 101 }, (_, i) => `n${i}`)), anything);
const validTtl = fc.oneof(fc.integer({ min: -5, max: 10 ** 9 }), fc.constantFrom('15m', '24h', '7d', '300', '1h30m'));
const invalidTtl = fc.oneof(fc.constantFrom(1.5, '', 'zz', '1w', '-5'), anything);
const validService = fc.constantFrom('payments', 'a', 'a'.repeat(63), 'kyc-liveness');
const invalidService = fc.oneof(fc.constantFrom('A', '1x', 'a'.repeat(64), 'a_b'), anything);

interface BodyShape {
  /** Each property: a valid value, and an invalid one. */
  properties: Record<string, [fc.Arbitrary<unknown>, fc.Arbitrary<unknown>]>;
  required: string[];
}

/** An operation's bodies: valid ones, valid ones with one property made invalid, removed or added, and anything at all. */
function bodiesOf(shape: BodyShape): fc.Arbitrary<unknown> {
  const valid = fc.record(Object.fromEntries(Object.entries(shape.properties).map(([name, [good]]) => [name, good])), { requiredKeys: shape.required });
  const names = Object.keys(shape.properties);
  const broken = fc.tuple(valid, fc.constantFrom(...names, 'extra'), fc.constantFrom('invalid', 'removed')).chain(([body, name, how]) => {
    const rest = Object.fromEntries(Object.entries(body as Record<string, unknown>).filter(([key]) => key !== name));
    if (how === 'removed') return fc.constant(rest);
    return (shape.properties[name]?.[1] ?? anything).map((value) => ({ ...rest, [name]: value }));
  });
  return fc.oneof({ weight: 2, arbitrary: valid }, { weight: 3, arbitrary: broken }, { weight: 1, arbitrary: anything });
}

/** `usual` three times in four, otherwise one of `others`. */
function mostly<T>(usual: T, others: T[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: fc.constantFrom(...others) });
}

/** Bodies near each shortcut operation's schema. */
const BODIES: Record<string, fc.Arbitrary<unknown>> = {
  'POST /v1/certificates': bodiesOf({
    properties: {
      csr: [validText(65_536), invalidText(65_536)],
      generateKey: [fc.constantFrom('ecdsa-p256', 'rsa-2048', 'ed25519'), fc.oneof(fc.constant('dsa'), anything)],
      profile: [validText(32), invalidText(32)],
      ttl: [validTtl, invalidTtl],
      sans: [validNames, invalidNames],
      service: [validService, invalidService],
      pkcs12Password: [validText(1024), invalidText(1024)],
    },
    required: ['profile'],
  }),
  'POST /v1/services': bodiesOf({
    properties: {
      name: [validService, invalidService],
      owner: [validText(200), invalidText(200)],
      contact: [fc.constantFrom('', 'ops@example.com'), fc.oneof(fc.constant('x'.repeat(201)), anything)],
      dnsNames: [validNames, invalidNames],
      ipAddresses: [validNames, invalidNames],
    },
    required: ['name', 'owner'],
  }),
  'POST /v1/api-tokens': bodiesOf({
    properties: {
      role: [fc.constantFrom('admin', 'security', 'ci', 'auditor'), fc.oneof(fc.constant('root'), anything)],
      name: [validText(100), invalidText(100)],
      ttl: [validTtl, invalidTtl],
    },
    required: ['role', 'name'],
  }),
};

describe('request validation: the shortcut for plain JSON operations', () => {
  let shortcut: { url: string; close: () => Promise<void> };
  let validatorOnly: { url: string; close: () => Promise<void> };

  before(async () => {
    shortcut = await listen(requestValidation(SPEC));
    validatorOnly = await listen(openApiValidator(SPEC));
  });
  after(async () => {
    await shortcut.close();
    await validatorOnly.close();
  });

  it('is taken for the fixed-path JSON operations only: not renewal, whose path /v1/certificates/{serial} also matches', () => {
    assert.deepEqual([...plainJsonBodyChecks(SPEC).keys()].sort(), ['POST /v1/api-tokens', 'POST /v1/certificates', 'POST /v1/services']);
  });

  it('leaves to the validator any operation with parameters, a templated path, a base path or a keyword beyond plain JSON Schema', () => {
    const body = (schema: Record<string, unknown>) => ({ requestBody: { required: true, content: { 'application/json': { schema } } } });
    const plain = { type: 'object', required: ['a'], properties: { a: { type: 'string', maxLength: 3 } } };
    const spec = {
      openapi: '3.0.3',
      paths: {
        '/plain': { post: body(plain) },
        '/with-format': { post: body({ type: 'object', properties: { a: { type: 'string', format: 'date-time' } } }) },
        '/with-default': { post: body({ type: 'object', properties: { a: { type: 'string', default: 'x' } } }) },
        '/with-nullable': { post: body({ type: 'object', properties: { a: { type: 'string', nullable: true } } }) },
        '/with-ref-to-format': { post: body({ $ref: '#/components/schemas/Stamped' }) },
        '/with-parameter': { post: { ...body(plain), parameters: [{ name: 'x', in: 'query', schema: { type: 'string' } }] } },
        '/path-parameters': { parameters: [{ name: 'x', in: 'header', schema: { type: 'string' } }], post: body(plain) },
        '/items/{id}': { post: body(plain) },
        '/items/special': { post: body(plain) },
        '/based': { post: { ...body(plain), servers: [{ url: 'https://localhost:8443/api' }] } },
      },
      components: { schemas: { Stamped: { type: 'object', properties: { at: { type: 'string', format: 'date' } } } } },
    } as unknown as OpenApiDocument['spec'];
    const checks = plainJsonBodyChecks(spec);
    assert.deepEqual([...checks.keys()], ['POST /plain']);
    assert.equal(checks.get('POST /plain')?.({ a: 'abc' }), true);
    assert.equal(checks.get('POST /plain')?.({ a: 'abcd' }), false);
    assert.equal(plainJsonBodyChecks({ ...spec, servers: [{ url: 'https://ca.example/trustroot' }] }).size, 0);
    assert.equal(plainJsonBodyChecks({ ...spec, servers: [{ url: '/v2' }] }).size, 0);
    assert.equal(plainJsonBodyChecks({ ...spec, servers: [{ url: '{scheme}://ca.example:{port}/' }] }).size, 0);
    assert.deepEqual([...plainJsonBodyChecks({ ...spec, servers: [{ url: '/' }, { url: 'https://ca.example' }] }).keys()], ['POST /plain']);
  });

  it('answers every request exactly as the validator alone does, and passes the same body on', async () => {
    const requests = fc.tuple(
      fc.constantFrom(...Object.keys(BODIES)).chain((operation) => fc.tuple(fc.constant(operation), BODIES[operation] ?? anything)),
      // Mostly the shape the shortcut takes, so that its refusals and acceptances are both well tried.
      mostly('', ['/', '?x=1', '?', 'UPPER']),
      mostly<string | undefined>('application/json', ['application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json', 'text/plain', undefined]),
      mostly('POST', ['PUT']),
      mostly('json', ['not json', 'none']),
    );
    let shortcutsTaken = 0;
    await fc.assert(
      fc.asyncProperty(requests, async ([[operation, body], suffix, contentType, method, encoding]) => {
        const basePath = operation.split(' ')[1] ?? '';
        const path = suffix === 'UPPER' ? basePath.toUpperCase() : `${basePath}${suffix}`;
        const payload = encoding === 'json' ? JSON.stringify(body) : encoding === 'not json' ? '{"profile": ' : undefined;
        const [viaShortcut, viaValidator] = await Promise.all([send(shortcut.url, method, path, contentType, payload), send(validatorOnly.url, method, path, contentType, payload)]);
        assert.deepEqual(viaShortcut, viaValidator, `${method} ${path} (${contentType ?? 'no content type'}) ${payload ?? ''}`);
        if (viaValidator.status === 200 && method === 'POST' && suffix === '' && contentType === 'application/json') shortcutsTaken += 1;
      }),
      { seed: 0x7257, numRuns: 600, includeErrorInReport: true },
    );
    // The comparison means something only if the validator accepted a good share of them.
    assert.ok(shortcutsTaken >= 20, `only ${shortcutsTaken} requests the shortcut could take were valid`);
  });

  it('takes the shortcut for every body the validator accepts, and refuses every body it refuses', async () => {
    const checks = plainJsonBodyChecks(SPEC);
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(BODIES)).chain((operation) => fc.tuple(fc.constant(operation), BODIES[operation] ?? anything)),
        async ([operation, body]) => {
          const [method, path] = operation.split(' ') as [string, string];
          const byValidator = await send(validatorOnly.url, method, path, 'application/json', JSON.stringify(body));
          assert.equal(checks.get(operation)?.(body), byValidator.status === 200, `${operation} ${JSON.stringify(body)}: ${byValidator.body}`);
          if (byValidator.status === 200) accepted += 1;
        },
      ),
      { seed: 0x7258, numRuns: 600, includeErrorInReport: true },
    );
    assert.ok(accepted >= 20, `only ${accepted} bodies were valid`);
  });

  it('lets HEAD by, for express to answer from the GET route', async () => {
    const answer = await send(shortcut.url, 'HEAD', '/v1/ca', undefined, undefined);
    assert.equal(answer.status, 200);
  });
});
