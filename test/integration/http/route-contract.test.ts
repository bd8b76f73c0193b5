import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Express } from 'express';
import { loadOpenApiDocument } from '../../../src/http/openapi-document.ts';
import { listRoutes, type RouteEntry } from '../../../src/http/route-inventory.ts';
import { startTestTrustroot, type TestTrustroot } from '../../support/trustroot-harness.ts';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

function documentedRoutes(): RouteEntry[] {
  const { spec } = loadOpenApiDocument();
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => HTTP_METHODS.includes(key))
      .map((method) => ({ method, path })),
  );
}

const key = (route: RouteEntry): string => `${route.method.toUpperCase()} ${route.path}`;

describe('openapi.yaml and the express routes', () => {
  let trustroot: TestTrustroot;
  let apps: Express[];

  before(async () => {
    trustroot = await startTestTrustroot();
    apps = [trustroot.instance.apps.api, trustroot.instance.apps.public];
  });
  after(() => trustroot.destroy());

  it('every route express serves is documented', () => {
    const documented = new Set(documentedRoutes().map(key));
    const undocumented = apps.flatMap(listRoutes).map(key).filter((route) => !documented.has(route));
    assert.deepEqual([...new Set(undocumented)], []);
  });

  it('every documented route is served by one of the listeners', () => {
    const served = new Set(apps.flatMap(listRoutes).map(key));
    const missing = documentedRoutes().map(key).filter((route) => !served.has(route));
    assert.deepEqual(missing, []);
  });

  it('the route inventory sees routes at all (the comparison is not vacuous)', () => {
    const served = apps.flatMap(listRoutes).map(key);
    assert.ok(served.includes('GET /v1/ca/chain'), served.join(', '));
    assert.ok(served.includes('GET /ca/{name}.crt'), served.join(', '));
  });
});
