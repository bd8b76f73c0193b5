import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpsRequest } from '../support/https-request.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

describe('rate limits on the API listener', () => {
  let trustroot: TestTrustroot;
  let rootPem: string;
  let admin: string;

  before(async () => {
    trustroot = await startTestTrustroot({
      env: { TRUSTROOT_RATE_LIMIT_AUTH_FAILURES: '3/min', TRUSTROOT_RATE_LIMIT_PER_CALLER: '2/min' },
    });
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    admin = trustroot.instance.initialAdminToken ?? '';
  });
  after(() => trustroot.destroy());

  const call = (method: string, path: string, token: string, body?: unknown) =>
    httpsRequest(`${trustroot.apiUrl}${path}`, {
      method,
      ca: rootPem,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  it('a costly operation beyond the per-caller limit is 429 with Retry-After', async () => {
    const created = await call('POST', '/v1/services', admin, { name: 'limited', owner: 'ops', dnsNames: ['limited.svc'] });
    assert.equal(created.status, 201, created.text);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await call('POST', '/v1/services/limited/bootstrap-tokens', admin, {})).status);
    assert.deepEqual(statuses, [201, 201, 429]);
    const limited = await call('POST', '/v1/services/limited/bootstrap-tokens', admin, {});
    assert.equal(limited.status, 429);
    assert.match(String(limited.headers['content-type']), /application\/problem\+json/);
    assert.equal(JSON.parse(limited.text).type, 'urn:trustroot:problem:too_many_requests');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    // Reads are not costly: still served.
    assert.equal((await call('GET', '/v1/services', admin)).status, 200);
  });

  it('repeated failed authentications lock the source out, even with a valid token', async () => {
    const bad = 'trb_' + 'A'.repeat(43);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await call('GET', '/v1/services', bad)).status);
    assert.deepEqual(statuses, [401, 401, 401]);
    const locked = await call('GET', '/v1/services', admin);
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers['retry-after']) >= 1);
  });
});
