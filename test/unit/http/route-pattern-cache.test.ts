import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { cacheRoutePatternCompilation } from '../../../src/http/route-pattern-cache.ts';

type Compile = (path: unknown, options?: Record<string, unknown>) => { regexp: RegExp; keys: { name: string }[] };

/** The path-to-regexp module exactly as express-openapi-validator requires it. */
function validatorsPathToRegexp(): { pathToRegexp: Compile } {
  return createRequire(createRequire(import.meta.url).resolve('express-openapi-validator'))('path-to-regexp') as { pathToRegexp: Compile };
}

describe('route pattern cache (express-openapi-validator route lookup)', () => {
  const original = validatorsPathToRegexp().pathToRegexp;
  cacheRoutePatternCompilation();
  cacheRoutePatternCompilation();
  const cached = validatorsPathToRegexp().pathToRegexp;

  it('is installed in the module the validator reads, once however often it is called', () => {
    assert.notEqual(cached, original);
    const first = cached('/v1/certificates/:serial', { sensitive: false, strict: false });
    assert.equal(cached('/v1/certificates/:serial', { sensitive: false, strict: false }), first);
  });

  it('answers what path-to-regexp answers, per pattern and per option', () => {
    for (const options of [{}, { sensitive: false, strict: false }, { sensitive: true, strict: false }, { sensitive: false, strict: true }]) {
      for (const path of ['/v1/certificates', '/v1/certificates/:serial', '/ca/:name.pem', '/ocsp/:issuer/*request']) {
        const expected = original(path, options);
        const actual = cached(path, options);
        assert.equal(actual.regexp.source, expected.regexp.source, `${path} ${JSON.stringify(options)}`);
        assert.equal(actual.regexp.flags, expected.regexp.flags);
        assert.deepEqual(actual.keys, expected.keys);
      }
    }
    assert.notEqual(cached('/v1/audit', { sensitive: true }), cached('/v1/audit', { sensitive: false }));
    assert.ok(cached('/v1/audit', { sensitive: false }).regexp.test('/V1/AUDIT'));
    assert.ok(!cached('/v1/audit', { sensitive: true }).regexp.test('/V1/AUDIT'));
  });

  it('compiles afresh what it does not key: other options, non-string patterns', () => {
    const withEnd = cached('/v1/audit', { end: false });
    assert.notEqual(cached('/v1/audit', { end: false }), withEnd);
    assert.ok(withEnd.regexp.test('/v1/audit/verify'));
    const several = cached(['/a', '/b'], {});
    assert.ok(several.regexp.test('/b'));
  });

  it('hands out frozen results, so no caller can change what the next one gets', () => {
    const result = cached('/v1/services/:name', {});
    assert.ok(Object.isFrozen(result));
    assert.ok(Object.isFrozen(result.keys));
    assert.throws(() => (result.keys as unknown[]).push({ name: 'extra' }), TypeError);
  });
});
