import { spawn } from 'node:child_process';
import type { CliIo } from './cli-io.ts';

/**
 * Runs `command` through the shell after a rotation (e.g. `systemctl reload nginx` or
 * `kill -HUP $(cat /run/app.pid)`), with `extraEnv` added to the environment. Its output goes to
 * our stderr, so that stdout keeps only results. Resolves with its exit code (1 when it could
 * not start or was killed by a signal).
 */
export function runExecHook(io: CliIo, command: string, extraEnv: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...io.env, ...extraEnv } });
    child.stdout.on('data', (chunk: Buffer) => io.stderr.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => io.stderr.write(chunk));
    child.on('error', () => resolve(1));
    child.on('close', (code) => resolve(code ?? 1));
  });
}
