import { Ajv } from 'ajv';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { OpenApiDocument } from './openapi-document.ts';
import { cacheRoutePatternCompilation } from './route-pattern-cache.ts';

type Schema = Record<string, unknown>;
type BodyCheck = (body: unknown) => boolean;

/**
 * Validation of every request against `openapi.yaml`, with a shortcut for the hot JSON routes.
 *
 * express-openapi-validator does, on every request, four middlewares' worth of work: it looks the
 * operation up among all documented routes, builds the request's parameter schemas anew, checks
 * the query and headers, and only then the body. That was ~9 % of the server's CPU per issuance
 * at concurrency 32 (BENCHMARKS.md, change 25). For an operation with a fixed path, no parameters
 * and a JSON body, all of that reduces to one check of the body; so such a request whose body
 * passes that check, compiled once from the same schema, goes straight on. Every other request —
 * and any such request that the check refuses — goes through the validator as before, so every
 * error a client can get is still the validator's, word for word.
 *
 * The shortcut only ever lets through what the validator would: it takes the exact path (no query
 * string, no trailing slash, no other case), the exact media type `application/json`, and bodies
 * valid under a schema written with the plain JSON Schema keywords both validators read alike.
 * An operation whose schema uses anything else (formats, defaults, `nullable`, read-only
 * properties…), or whose path another documented path template also matches, keeps the validator.
 */
export function requestValidation(spec: OpenApiDocument['spec']): RequestHandler {
  const validateFully = openApiValidator(spec);
  const plainJsonBodies = plainJsonBodyChecks(spec);
  return (req: Request, res: Response, next: NextFunction) => {
    // HEAD is GET without a body (RFC 9110 9.3.2) and is not listed in the contract; express
    // answers it from the GET route, so only the validator needs to let it by.
    if (req.method === 'HEAD') return next();
    const validBody = plainJsonBodies.get(`${req.method} ${req.url}`);
    if (validBody !== undefined && req.headers['content-type'] === 'application/json' && req.body !== undefined && validBody(req.body)) return next();
    validateFully(req, res, next);
  };
}

/** express-openapi-validator's middlewares, as one: every request, every check. */
export function openApiValidator(spec: OpenApiDocument['spec']): RequestHandler {
  cacheRoutePatternCompilation();
  const middlewares = OpenApiValidator.middleware({
    apiSpec: structuredClone(spec) as never,
    validateRequests: { allowUnknownQueryParameters: false },
    validateResponses: false,
    validateSecurity: false,
    ignoreUndocumented: false,
  }) as RequestHandler[];
  return inSequence(middlewares);
}

/** Runs middlewares one after the other, as express would if each were `app.use`d. */
function inSequence(handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let index = 0;
    const step = (error?: unknown): void => {
      if (error !== undefined && error !== null) return next(error);
      const handler = handlers[index++];
      if (handler === undefined) return next();
      try {
        const returned: unknown = handler(req, res, step);
        if (returned instanceof Promise) returned.catch((rejection: unknown) => next(rejection ?? new Error('Rejected promise')));
      } catch (thrown) {
        next(thrown);
      }
    };
    step();
  };
}

/** Keywords whose meaning JSON Schema and OpenAPI 3.0 share, and that never change the data. */
const PLAIN_KEYWORDS = new Set([
  '$ref',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'uniqueItems',
  'oneOf',
  'anyOf',
  'allOf',
  'description',
  'title',
]);

/**
 * `"POST /v1/certificates"` → a check of its body, for each operation the shortcut may take:
 * a path without templates that no other path template matches, no parameters, a JSON body
 * whose schema uses only plain keywords, and no server with a base path.
 */
export function plainJsonBodyChecks(spec: OpenApiDocument['spec']): Map<string, BodyCheck> {
  const ajv = new Ajv({ strict: false, allErrors: false, useDefaults: false, coerceTypes: false, removeAdditional: false, validateSchema: false });
  const components = (spec.components ?? {}) as Schema;
  const templates = Object.keys(spec.paths)
    .filter((path) => path.includes('{'))
    .map(templatePattern);
  const checks = new Map<string, BodyCheck>();
  if (!serversWithoutBasePath(spec.servers)) return checks;
  for (const [path, pathItem] of Object.entries(spec.paths)) {
    if (path.includes('{') || templates.some((pattern) => pattern.test(path))) continue;
    if (hasEntries(pathItem.parameters) || !serversWithoutBasePath(pathItem.servers)) continue;
    for (const [method, operation] of Object.entries(pathItem) as [string, Schema][]) {
      if (!['post', 'put', 'patch'].includes(method) || hasEntries(operation.parameters) || !serversWithoutBasePath(operation.servers)) continue;
      const body = operation.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined;
      const schema = body?.content?.['application/json']?.schema;
      if (schema === undefined || !usesOnlyPlainKeywords(schema, components, new Set())) continue;
      // Compiled the way the validator compiles it: the components travel with the schema, so
      // that its `#/components/...` references resolve.
      const validate = ajv.compile({ components, properties: { body: schema }, required: ['body'] });
      checks.set(`${method.toUpperCase()} ${path}`, (body) => validate({ body }));
    }
  }
  return checks;
}

function templatePattern(path: string): RegExp {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{[^}]*\\\}/g, '[^/]+');
  return new RegExp(`^${escaped}/?$`, 'i');
}

function hasEntries(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

function serversWithoutBasePath(servers: unknown): boolean {
  if (servers === undefined) return true;
  if (!Array.isArray(servers)) return false;
  return servers.every((server: { url?: unknown }) => typeof server.url === 'string' && isRootUrl(server.url));
}

/** Whether a server URL, absolute or relative, has no path; false for one that is not a URL (a template, say). */
function isRootUrl(url: string): boolean {
  try {
    return ['', '/'].includes(new URL(url, 'http://relative.invalid').pathname);
  } catch {
    return false;
  }
}

/** Whether `schema`, and every schema it holds or references, uses only PLAIN_KEYWORDS. */
function usesOnlyPlainKeywords(schema: unknown, components: Schema, visiting: Set<string>): boolean {
  if (typeof schema === 'boolean') return true;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return false;
  const node = schema as Schema;
  for (const [keyword, value] of Object.entries(node)) {
    if (!PLAIN_KEYWORDS.has(keyword)) return false;
    switch (keyword) {
      case '$ref': {
        const target = referencedSchema(value, components);
        if (target === undefined) return false;
        // A schema that refers to itself, through others or not, is judged once.
        if (!visiting.has(value as string)) {
          visiting.add(value as string);
          if (!usesOnlyPlainKeywords(target, components, visiting)) return false;
        }
        break;
      }
      case 'properties':
        if (typeof value !== 'object' || value === null) return false;
        if (!Object.values(value).every((property) => usesOnlyPlainKeywords(property, components, visiting))) return false;
        break;
      case 'items':
      case 'additionalProperties':
        if (!usesOnlyPlainKeywords(value, components, visiting)) return false;
        break;
      case 'oneOf':
      case 'anyOf':
      case 'allOf':
        if (!Array.isArray(value) || !value.every((member) => usesOnlyPlainKeywords(member, components, visiting))) return false;
        break;
      default:
        break;
    }
  }
  return true;
}

function referencedSchema(ref: unknown, components: Schema): unknown {
  if (typeof ref !== 'string') return undefined;
  const match = /^#\/components\/schemas\/([^/]+)$/.exec(ref);
  if (!match?.[1]) return undefined;
  return (components.schemas as Schema | undefined)?.[match[1]];
}
