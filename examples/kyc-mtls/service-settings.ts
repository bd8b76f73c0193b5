import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDuration } from '../../src/client/parse-duration.ts';
import type { Log, MtlsCredentials, TrustrootSettings } from './mtls-credentials.ts';

/*
 * What both services read from the environment when run on their own, and how they run:
 * JSON log lines on stdout, SIGHUP to reload, SIGTERM/SIGINT to stop. The start functions take
 * plain objects, so tests (and other hosts) never go through the environment.
 */

type Env = Record<string, string | undefined>;

/** The settings every service shares: where Trustroot is, where the credentials live, how often to refresh the CRL. */
export interface CommonSettings {
  trustroot: TrustrootSettings;
  /** Credential directory (key.pem, cert.pem, chain.pem, ca.pem). */
  certDir: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  crlRefreshMs: number;
}

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** A comma-separated list, e.g. ALLOWED_CLIENTS=compliance.svc,audit.svc. */
export function listFromEnv(env: Env, name: string, fallback: string[]): string[] {
  const value = env[name]?.trim();
  return value ? value.split(',').map((item) => item.trim()).filter((item) => item !== '') : fallback;
}

/**
 * TRUSTROOT_CA_URL, TRUSTROOT_ROOT_FINGERPRINT (required), TRUSTROOT_PUBLIC_URL, TRUSTROOT_TOKEN
 * (the bootstrap token, first start only), CERT_DIR (default ./tls/<service>), HOST (default
 * 127.0.0.1), PORT, CRL_REFRESH (default 60s).
 */
export function commonSettingsFromEnv(env: Env, service: string, defaultPort: number): CommonSettings {
  const publicUrl = env.TRUSTROOT_PUBLIC_URL?.trim();
  const token = env.TRUSTROOT_TOKEN?.trim();
  return {
    trustroot: {
      caUrl: required(env, 'TRUSTROOT_CA_URL'),
      rootFingerprint: required(env, 'TRUSTROOT_ROOT_FINGERPRINT'),
      ...(publicUrl ? { publicUrl } : {}),
      ...(token ? { bootstrapToken: token } : {}),
    },
    certDir: path.resolve(env.CERT_DIR?.trim() || path.join('tls', service)),
    host: env.HOST?.trim() || '127.0.0.1',
    port: Number(env.PORT ?? defaultPort),
    crlRefreshMs: parseDuration(env.CRL_REFRESH ?? '60s'),
  };
}

/** A {@link Log} writing one JSON object per line to stdout. */
export function jsonLog(service: string): Log {
  return (event, fields = {}) => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), service, event, ...fields })}\n`);
  };
}

/** Whether the module at `moduleUrl` is the program's entry point (`node --import tsx file.ts`). */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && path.resolve(entry) === fileURLToPath(moduleUrl);
}

/**
 * Wires the signals of a running service: SIGHUP re-reads the credential files and refreshes the
 * CRL (what `trustroot renew --exec 'kill -HUP …'` sends), SIGTERM/SIGINT close it and exit.
 */
export function handleSignals(service: { credentials: MtlsCredentials; close(): Promise<void> }, log: Log): void {
  process.on('SIGHUP', () => {
    log('reload-requested', { signal: 'SIGHUP' });
    Promise.all([service.credentials.reload(), service.credentials.refreshCrl()]).catch((error: unknown) => log('sighup-failed', { error: String(error) }));
  });
  const stop = () => {
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log('stop-failed', { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
