import { createRequire } from 'node:module';

interface CompiledPattern {
  regexp: RegExp;
  keys: unknown[];
}

type CompilePattern = (path: unknown, options?: Record<string, unknown>) => CompiledPattern;

const INSTALLED = Symbol.for('trustroot.routePatternCache');

/**
 * express-openapi-validator (5.x) finds a request's operation by compiling, with path-to-regexp,
 * the pattern of every documented route in turn until one matches, on every request: some twenty
 * compilations before it reaches `POST /v1/certificates`, ~4 % of the server's CPU per issuance
 * in the profile (BENCHMARKS.md). A compilation depends only on the pattern and the options, so
 * this caches its results in the path-to-regexp module the validator itself requires (the
 * validator reads the function from the module object on each call). Only string patterns with
 * the validator's two options are cached; anything else compiles as before. Results are frozen,
 * so one caller cannot change what another gets. Express's own router compiles its routes once
 * and is not affected. Idempotent (both listeners' apps call it).
 */
export function cacheRoutePatternCompilation(): void {
  const requireFromValidator = createRequire(createRequire(import.meta.url).resolve('express-openapi-validator'));
  const pathToRegexpModule = requireFromValidator('path-to-regexp') as Record<string | symbol, unknown>;
  if (pathToRegexpModule[INSTALLED] === true) return;
  const compile = pathToRegexpModule.pathToRegexp as CompilePattern;
  const compiled = new Map<string, CompiledPattern>();
  pathToRegexpModule.pathToRegexp = (path: unknown, options: Record<string, unknown> = {}): CompiledPattern => {
    const key = cacheKey(path, options);
    if (key === undefined) return compile(path, options);
    let result = compiled.get(key);
    if (result === undefined) {
      const fresh = compile(path, options);
      result = Object.freeze({ ...fresh, keys: Object.freeze([...fresh.keys]) as unknown[] });
      compiled.set(key, result);
    }
    return result;
  };
  pathToRegexpModule[INSTALLED] = true;
}

/**
 * A key for a string pattern whose options are only the validator's `sensitive` and `strict`
 * flags; undefined (not cached) otherwise. Cheap on purpose: it runs once per route per request.
 */
function cacheKey(path: unknown, options: Record<string, unknown>): string | undefined {
  if (typeof path !== 'string') return undefined;
  for (const name in options) if (name !== 'sensitive' && name !== 'strict') return undefined;
  return `${options.sensitive === true ? 'S' : '-'}${options.strict === true ? 'T' : '-'}${path}`;
}
