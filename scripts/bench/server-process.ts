import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/support/free-port.ts';

export interface ServerProcess {
  pid: number;
  /** `https://127.0.0.1:<port>`: the API. */
  apiUrl: string;
  /** `http://127.0.0.1:<port>`: CA certificates, CRLs and OCSP. */
  publicUrl: string;
  /** The first admin API token (chosen here through TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN). */
  adminToken: string;
  /** PEM of the production root, fetched from the public listener: the only CA the client trusts. */
  rootPem: string;
  /** The server's resident set size now, in MB of 10^6 bytes (VmRSS of /proc/<pid>/status). */
  rssMB(): Promise<number>;
  /** The server's peak resident set size since it started or since resetPeakRss(), in MB (VmHWM of /proc/<pid>/status). */
  peakRssMB(): Promise<number>;
  /** Starts VmHWM again from the current RSS (writes 5 to /proc/<pid>/clear_refs). */
  resetPeakRss(): Promise<void>;
  /** CPU time the server process has used so far, user + system, every thread (s). */
  cpuSeconds(): Promise<number>;
  /** Its data directory (CA keys) and the passphrase of those keys: a replica shares both. */
  dataDir: string;
  keyPassphrase: string;
  /** The server's stdout and stderr (JSON logs); removed by stop() with the data directory. */
  logFile: string;
  /** The last lines the server wrote (its JSON logs), for a failure message. */
  logTail(): Promise<string>;
  /** SIGTERM, then SIGKILL after 15 s; removes the data directory. */
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  databaseUrl: string;
  /** LOG_LEVEL of the server (`info` in production: one JSON line per request). */
  logLevel: string;
  /** Extra Node options for the server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it under load. */
  nodeArgs?: string[];
  /**
   * Run `src/bin/server.ts` through tsx (`npm start`) instead of the compiled server
   * (`npm run build && npm run start:built`, what production runs): the tsx loader adds its own
   * thread and memory, which is not the server's.
   */
  fromSource?: boolean;
  /**
   * A command the server runs under, e.g. valgrind's (`instruction-count.ts`): spawned as
   * `<prefix…> node <options> <entry>`, with `readyTimeoutMs` to match its pace.
   */
  commandPrefix?: string[];
  /** How long start-up may take before /readyz answers (default 90 s). */
  readyTimeoutMs?: number;
  /**
   * Start a second replica of this server: same data directory (CA keys), passphrase and admin
   * token, its own ports and log. Stopping a replica leaves the shared directory to its owner.
   */
  replicaOf?: ServerProcess;
}

/**
 * The server's command line from package.json (Node options included), without the leading
 * `node`: `start:built` for the compiled server (what production runs), `start` for the sources
 * through tsx. Read from there so that the benchmark cannot drift from what operators run.
 */
export function serverArgs(script: 'start' | 'start:built'): string[] {
  const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string | undefined> };
  const line = manifest.scripts[script] ?? '';
  const [command, ...args] = line.trim().split(/\s+/);
  const entry = script === 'start' ? 'src/bin/server.ts' : 'dist/src/bin/server.js';
  if (command !== 'node' || args.at(-1) !== entry) throw new Error(`package.json's ${script} is not "node [options] ${entry}": ${line}`);
  return args;
}

/** `npm run build`: compiles the server to dist/ (git-ignored), as a production deployment does. */
export async function buildServer(): Promise<void> {
  const child = spawn('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`npm run build failed (exit ${code}): ${stderr.trim()}`);
}

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const READY_TIMEOUT_MS = 90_000;

/** A field of /proc/<pid>/status (e.g. VmRSS, given in KiB although labelled kB), in MB of 10^6 bytes. */
async function procStatusMB(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
  return (Number(match[1]) * 1024) / 1e6;
}

/** Linux reports /proc times in USER_HZ ticks, 100 per second on every mainstream architecture. */
const USER_HZ = 100;

/** utime + stime of /proc/<pid>/stat (fields 14 and 15, counted after the parenthesised name). */
export async function procCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The environment of the child: ours without Trustroot settings, plus the benchmark's. */
function childEnvironment(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('TRUSTROOT_') || name === 'DATABASE_URL' || name === 'LOG_LEVEL') continue;
    env[name] = value;
  }
  return { ...env, ...settings };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts Trustroot exactly as `npm run start:built` does (or `npm start` with `fromSource`) in a
 * child process, so that the load generator does not share its event loop, and waits until /readyz
 * answers 200. It listens on 127.0.0.1 only, on free ports, with its own data directory (CA keys),
 * the given database, no scheduler (jobs would disturb the measurements) and rate limits far
 * above anything the benchmark sends (every request comes from 127.0.0.1 with few tokens).
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const ownsDataDir = options.replicaOf === undefined;
  const dataDir = options.replicaOf?.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'trustroot-bench-data-')));
  if (ownsDataDir) await chmod(dataDir, 0o755);
  const httpsPort = await freePort();
  const httpPort = await freePort();
  const adminToken = options.replicaOf?.adminToken ?? `trt_${randomBytes(32).toString('base64url')}`;
  const keyPassphrase = options.replicaOf?.keyPassphrase ?? randomBytes(24).toString('base64url');
  const logFile = path.join(dataDir, `server-${httpsPort}.log`);
  const log = createWriteStream(logFile);
  await new Promise((resolve) => log.once('open', resolve));
  const entry = serverArgs(options.fromSource ? 'start' : 'start:built');
  const [command = process.execPath, ...commandArgs] = [...(options.commandPrefix ?? []), process.execPath, ...(options.nodeArgs ?? []), ...entry];
  const child = spawn(command, commandArgs, {
    cwd: REPO_ROOT,
    stdio: ['ignore', log, log],
    env: childEnvironment({
      DATABASE_URL: options.databaseUrl,
      TRUSTROOT_DATA_DIR: dataDir,
      TRUSTROOT_KEY_PASSPHRASE: keyPassphrase,
      TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN: adminToken,
      TRUSTROOT_LISTEN_HOST: '127.0.0.1',
      TRUSTROOT_HOSTNAMES: '127.0.0.1,localhost',
      TRUSTROOT_HTTPS_PORT: String(httpsPort),
      TRUSTROOT_HTTP_PORT: String(httpPort),
      TRUSTROOT_SCHEDULER: 'off',
      TRUSTROOT_RATE_LIMIT_PER_SOURCE: '1000000000/s',
      TRUSTROOT_RATE_LIMIT_PER_CALLER: '1000000000/s',
      TRUSTROOT_RATE_LIMIT_AUTH_FAILURES: '1000000000/s',
      LOG_LEVEL: options.logLevel,
    }),
  });
  const pid = child.pid;
  // If this process exits without stop() (Ctrl-C), take the server and its folder along.
  const killAtExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', killAtExit);
  const logTail = async (): Promise<string> => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    return text.split('\n').slice(-30).join('\n');
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited(child);
      clearTimeout(killer);
    }
    log.end();
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    process.removeListener('exit', killAtExit);
  };
  try {
    if (pid === undefined) throw new Error('the server process did not start');
    const publicUrl = `http://127.0.0.1:${httpPort}`;
    const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
    const deadline = performance.now() + readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the server exited during start-up (${child.exitCode ?? child.signalCode}):\n${await logTail()}`);
      }
      const ready = await fetch(`${publicUrl}/readyz`).then(
        (response) => response.status === 200,
        () => false,
      );
      if (ready) break;
      if (performance.now() > deadline) throw new Error(`the server was not ready within ${readyTimeoutMs / 1000} s:\n${await logTail()}`);
      await sleep(100);
    }
    const rootResponse = await fetch(`${publicUrl}/ca/root.pem`);
    if (rootResponse.status !== 200) throw new Error(`GET /ca/root.pem answered ${rootResponse.status}`);
    const rootPem = await rootResponse.text();
    return {
      pid,
      apiUrl: `https://127.0.0.1:${httpsPort}`,
      publicUrl,
      adminToken,
      rootPem,
      rssMB: () => procStatusMB(pid, 'VmRSS'),
      peakRssMB: () => procStatusMB(pid, 'VmHWM'),
      resetPeakRss: () => writeFile(`/proc/${pid}/clear_refs`, '5'),
      cpuSeconds: () => procCpuSeconds(pid),
      dataDir,
      keyPassphrase,
      logFile,
      logTail,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Runs `work` while watching the server: its RSS sampled every `intervalMs` (the largest value
 * seen, MB) and the CPU time it used meanwhile (s) — which, unlike throughput, does not depend
 * on what else the machine is doing.
 */
export async function observeServer<T>(server: ServerProcess, work: () => Promise<T>, intervalMs = 50): Promise<{ result: T; peakRssMB: number; cpuSeconds: number }> {
  let peak = await server.rssMB();
  const cpuBefore = await server.cpuSeconds();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sleep(intervalMs);
      peak = Math.max(peak, await server.rssMB().catch(() => 0));
    }
  })();
  try {
    const result = await work();
    const cpuSeconds = (await server.cpuSeconds()) - cpuBefore;
    return { result, peakRssMB: Math.max(peak, await server.rssMB()), cpuSeconds };
  } finally {
    sampling = false;
    await sampler;
  }
}
