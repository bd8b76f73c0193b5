import { spawn } from 'node:child_process';
import path from 'node:path';

/*
 * Runs the real `trustroot` binary (`node bin/trustroot.mjs`) as a child process, for the CLI's
 * end-to-end tests.
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

/**
 * Runs `node bin/trustroot.mjs …args` from the repository root with `cliBaseEnv()`, then `env`
 * on top (an undefined value removes the variable); never throws on the exit code. A run that
 * outlives `timeoutMs` is killed, so a hung CLI fails its test instead of stalling the file.
 */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 45_000): Promise<CliResult> {
  const release = await slot();
  try {
    const started = Date.now();
    const childEnv = cliBaseEnv();
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete childEnv[key];
      else childEnv[key] = value;
    }
    const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: REPO, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
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
