import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for a long-running server whose live heap is small (~45 MB after a full GC), so
 * that its resident memory follows what it holds rather than what it once allocated. Measured
 * on the issuance benchmark (BENCHMARKS.md, "Memory"):
 *
 * - `--heap-growing-percent=50`: after each major GC V8 lets the old generation grow to up to
 *   4× what survived before the next one ("throughput" mode); under load that is ~180 MB of
 *   mostly dead request objects. Growing by 1.5× instead keeps the peak ~100 MB lower, for
 *   ~10 % more CPU per request (more, smaller major GCs); `--heap-growing-percent=0` on the
 *   command line gives back V8's default.
 * - `--liftoff-only`: Prisma's query compiler is a WebAssembly module; V8 compiles it with its
 *   baseline compiler and then recompiles hot functions with TurboFan, which took ~50 MB of
 *   compiler and code memory. Query plans are cached per query shape and the issuance path runs
 *   on prepared statements (see sql-session.ts): ~1 % of the server's CPU under issuance load is
 *   Prisma's, so the optimised code bought nothing measurable.
 *
 * Called first thing at start, before the WebAssembly module is compiled. A flag the operator
 * gave on the node command line (e.g. `node --heap-growing-percent=100 …`) wins.
 */
export function applyServerV8Settings(execArgv: readonly string[] = process.execArgv, setFlags: (flags: string) => void = setFlagsFromString): void {
  for (const [flag, setting] of SERVER_V8_SETTINGS) {
    const given = execArgv.some((arg) => arg === flag || arg.startsWith(`${flag}=`) || arg === flag.replace(/^--/, '--no-'));
    if (!given) setFlags(setting);
  }
}

const SERVER_V8_SETTINGS: readonly (readonly [flag: string, setting: string])[] = [
  ['--heap-growing-percent', '--heap-growing-percent=50'],
  ['--liftoff-only', '--liftoff-only'],
];
