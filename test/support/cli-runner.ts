import { spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../../src/cli/run-cli.ts';

/*
 * Runs `trustroot` commands for the CLI's end-to-end tests, two ways: in this process, through
 * the same `runCli` that `src/cli/main.ts` calls with the process's own streams and environment
 * (what most tests use: a child process costs ~0.6 s of CPU to load the CLI through tsx, and the
 * two CLI files make some two hundred runs), or as the real binary (`node bin/trustroot.mjs`, a
 * child process), for what only the shipped launcher can show: that it loads, passes the exit
 * code and flushes its output, and stops on a signal.
 */

export const REPO = path.resolve(import.meta.dirname, '../..');
export const CLI_BIN = path.join(REPO, 'bin', 'trustroot.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Spawns at most this many CLI processes at once (per test file): the machine may have two cores. */
const MAX_PARALLEL_CLI = 4;
let running = 0;
const waiting: (() => void)[] = [];

async function slot(): Promise<() => void> {
  if (running >= MAX_PARALLEL_CLI) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  return () => {
    running -= 1;
    waiting.shift()?.();
  };
}

/** The environment of every CLI run: none of the outer TRUSTROOT_* variables leak in. */
export function cliBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('TRUSTROOT_')) env[key] = value;
  }
  return env;
}

/** `cliBaseEnv()` with `env` on top; an undefined value removes the variable. */
function runEnv(env: Record<string, string | undefined>): Record<string, string> {
  const result = cliBaseEnv();
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete result[key];
    else result[key] = value;
  }
  return result;
}

/** A stream that keeps what is written to it, as text. */
class TextSink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    callback();
  }
}

/**
 * Runs `trustroot …args` in this process with `cliBaseEnv()`, then `env` on top (an undefined
 * value removes the variable), and its output captured; never throws on the exit code. A run
 * that outlives `timeoutMs` is reported as a failure, so a hung command fails its test instead of
 * stalling the file.
 */
export async function runCliInProcess(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 45_000): Promise<CliResult> {
  const started = Date.now();
  const stdout = new TextSink();
  const stderr = new TextSink();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`trustroot ${args.join(' ')} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const code = await Promise.race([runCli(args, { env: runEnv(env), stdout, stderr }), timeout]);
    return { code, signal: null, stdout: stdout.text, stderr: stderr.text, elapsedMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `node bin/trustroot.mjs …args` from the repository root with `cliBaseEnv()`, then `env`
 * on top (an undefined value removes the variable); never throws on the exit code. A run that
 * outlives `timeoutMs` is killed, so a hung CLI fails its test instead of stalling the file.
 */
export async function runCliBinary(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 45_000): Promise<CliResult> {
  const release = await slot();
  try {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: REPO, env: runEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    clearTimeout(timer);
    return { code, signal, stdout, stderr, elapsedMs: Date.now() - started };
  } finally {
    release();
  }
}

/** A failure message showing a run's exit code and output. */
export function showCliResult(result: CliResult): string {
  return `exit ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}
