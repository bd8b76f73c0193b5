import path from 'node:path';

/**
 * Trustroot's settings, parsed once at start-up from the environment. Every option is listed
 * here with its default; the README's configuration table mirrors this file.
 */
export interface Config {
  /** TRUSTROOT_DATA_DIR (default `./data`): embedded PostgreSQL, encrypted CA keys, dev passphrase. */
  dataDir: string;
  /** DATABASE_URL: an external PostgreSQL. Unset: an embedded PostgreSQL under `<dataDir>/postgres`. */
  databaseUrl: string | undefined;
  /** TRUSTROOT_EMBEDDED_PG_PORT (default 54329): loopback port of the embedded PostgreSQL. */
  embeddedPostgresPort: number;
  /** TRUSTROOT_KEY_PASSPHRASE: encrypts the CA private keys. Unset: generated into the data dir (development). */
  keyPassphrase: string | undefined;
  /** TRUSTROOT_LISTEN_HOST (default `0.0.0.0`): address both listeners bind to. */
  listenHost: string;
  /** TRUSTROOT_HTTPS_PORT (default 8443): the API over TLS. */
  httpsPort: number;
  /** TRUSTROOT_HTTP_PORT (default 8080): plain HTTP for CA certificates, CRLs and OCSP. */
  httpPort: number;
  /** TRUSTROOT_HOSTNAMES (default `localhost,127.0.0.1`): names in the API's own TLS certificate. */
  hostnames: string[];
  /** TRUSTROOT_PUBLIC_HTTP_URL (default `http://<first hostname>:<httpPort>`): base URL relying parties fetch from. */
  publicHttpUrl: string;
  /** TRUSTROOT_TLS_CERT_TTL (default `24h`): validity of the API's own TLS certificate; renewed at two thirds. */
  tlsCertificateTtlSeconds: number;
  /** TRUSTROOT_BODY_LIMIT (default `64kb`): largest accepted request body. */
  bodyLimit: string;
  /** TRUSTROOT_DB_CONNECT_TIMEOUT (default `60s`): how long start-up waits for the database. */
  databaseStartupTimeoutSeconds: number;
  /** TRUSTROOT_DB_QUERY_TIMEOUT (default `5s`): bound on acquiring a connection and on one statement. */
  databaseQueryTimeoutSeconds: number;
  /** LOG_LEVEL (default `info`): pino level. */
  logLevel: string;
  /** TRUSTROOT_CRL_VALIDITY (default `24h`): nextUpdate − thisUpdate of published CRLs. */
  crlValiditySeconds: number;
  /** TRUSTROOT_CRL_REFRESH (default `1h`): CRLs older than this are rebuilt (revocations rebuild at once). */
  crlRefreshSeconds: number;
  /** TRUSTROOT_OCSP_VALIDITY (default `1h`): nextUpdate of OCSP answers (how long clients may cache them). */
  ocspValiditySeconds: number;
  /** TRUSTROOT_EXPIRY_THRESHOLDS (default `30d,14d,7d,1d,75%,90%`): when certificates are flagged before expiry. */
  expiryThresholds: string;
  /**
   * Cron expressions (node-cron, optional seconds field) of the scheduled jobs:
   * TRUSTROOT_CRON_EXPIRY_SCAN (`*\/5 * * * *`), TRUSTROOT_CRON_MARK_EXPIRED (`* * * * *`),
   * TRUSTROOT_CRON_CRL_REFRESH (`*\/5 * * * *`), TRUSTROOT_CRON_DELIVER_NOTIFICATIONS (`*\/15 * * * * *`).
   */
  jobSchedules: { 'expiry-scan': string; 'mark-expired': string; 'crl-refresh': string; 'deliver-notifications': string };
  /** TRUSTROOT_SCHEDULER (default `on`): `off` runs no scheduled job in this process (tests, one-off tools). */
  schedulerEnabled: boolean;
  /**
   * Rate limits, as `<count>/<s|min|h>` (the count is also the burst):
   * TRUSTROOT_RATE_LIMIT_PER_SOURCE (`6000/min`) and TRUSTROOT_RATE_LIMIT_PER_CALLER (`600/min`)
   * bound issuance, renewal and bootstrap-token minting per source address and per token or
   * certificate; TRUSTROOT_RATE_LIMIT_AUTH_FAILURES (`20/min`) bounds failed authentications per
   * source address, after which that address gets 429 on every API request.
   */
  rateLimits: {
    costlyPerSource: { capacity: number; perSecond: number };
    costlyPerCaller: { capacity: number; perSecond: number };
    authFailuresPerSource: { capacity: number; perSecond: number };
  };
  /** TRUSTROOT_MAX_CONCURRENT_REQUESTS (default 512): requests in progress per listener beyond which new ones get 503. */
  maxConcurrentRequests: number;
  /** TRUSTROOT_PROFILES_FILE: JSON array of certificate profiles replacing the built-in ones. */
  profilesFile: string | undefined;
  /** TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN: the first admin API token, instead of a random one (automation). */
  bootstrapAdminToken: string | undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses `90`, `90s`, `15m`, `24h` or `7d` into whole seconds (> 0). */
export function parseDurationSeconds(value: string, option: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(value.trim());
  const amount = match ? Number(match[1]) : NaN;
  const unit = match?.[2] ? DURATION_UNITS[match[2]] : 1;
  if (!match || unit === undefined || !Number.isSafeInteger(amount * unit) || amount <= 0) {
    throw new ConfigError(`${option}="${value}" is not a duration such as 90s, 15m, 24h or 7d`);
  }
  return amount * unit;
}

function parsePort(value: string, option: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 0 || port > 65535) {
    throw new ConfigError(`${option}="${value}" is not a TCP port (0-65535)`);
  }
  return port;
}

/** `100/s`, `600/min`, `20/h`: the count per period, which is also the burst. */
function parseRate(value: string, option: string): { capacity: number; perSecond: number } {
  const match = /^(\d+)\/(s|min|h)$/.exec(value.trim());
  const amount = Number(match?.[1]);
  const period = match?.[2] === 's' ? 1 : match?.[2] === 'min' ? 60 : 3600;
  if (!match || !Number.isSafeInteger(amount) || amount <= 0) {
    throw new ConfigError(`${option}="${value}" is not a rate such as 100/s, 600/min or 20/h`);
  }
  return { capacity: amount, perSecond: amount / period };
}

function parsePositiveInteger(value: string, option: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number <= 0) throw new ConfigError(`${option}="${value}" is not a positive whole number`);
  return number;
}

function parseSwitch(value: string, option: string): boolean {
  if (value === 'on' || value === 'true' || value === '1') return true;
  if (value === 'off' || value === 'false' || value === '0') return false;
  throw new ConfigError(`${option}="${value}" must be on or off`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/**
 * Reads the configuration from an environment. Throws a `ConfigError` naming the option at
 * the first invalid value, so that start-up fails before anything is touched.
 */
export function loadConfig(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): Config {
  const httpPort = parsePort(env.TRUSTROOT_HTTP_PORT ?? '8080', 'TRUSTROOT_HTTP_PORT');
  const hostnames = (env.TRUSTROOT_HOSTNAMES ?? 'localhost,127.0.0.1')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (hostnames.length === 0) {
    throw new ConfigError('TRUSTROOT_HOSTNAMES must name at least one host');
  }
  const firstHost = hostnames[0] ?? 'localhost';
  // An IPv6 literal needs brackets in a URL.
  const urlHost = firstHost.includes(':') ? `[${firstHost}]` : firstHost;
  const publicHttpUrl = (nonEmpty(env.TRUSTROOT_PUBLIC_HTTP_URL) ?? `http://${urlHost}:${httpPort}`).replace(/\/+$/, '');
  try {
    const url = new URL(publicHttpUrl);
    if (url.protocol !== 'http:') throw new Error('not http');
  } catch {
    throw new ConfigError(`TRUSTROOT_PUBLIC_HTTP_URL="${publicHttpUrl}" is not an http:// URL`);
  }
  const databaseUrl = nonEmpty(env.DATABASE_URL);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgresql:// URL');
  }
  const keyPassphrase = nonEmpty(env.TRUSTROOT_KEY_PASSPHRASE);
  if (keyPassphrase !== undefined && keyPassphrase.length < 12) {
    throw new ConfigError('TRUSTROOT_KEY_PASSPHRASE must be at least 12 characters');
  }
  const crlValidity = env.TRUSTROOT_CRL_VALIDITY ?? '24h';
  const crlRefresh = env.TRUSTROOT_CRL_REFRESH ?? '1h';
  if (parseDurationSeconds(crlRefresh, 'TRUSTROOT_CRL_REFRESH') >= parseDurationSeconds(crlValidity, 'TRUSTROOT_CRL_VALIDITY')) {
    throw new ConfigError('TRUSTROOT_CRL_REFRESH must be shorter than TRUSTROOT_CRL_VALIDITY, or CRLs would expire before they are rebuilt');
  }
  return {
    dataDir: path.resolve(cwd, nonEmpty(env.TRUSTROOT_DATA_DIR) ?? 'data'),
    databaseUrl,
    embeddedPostgresPort: parsePort(env.TRUSTROOT_EMBEDDED_PG_PORT ?? '54329', 'TRUSTROOT_EMBEDDED_PG_PORT'),
    keyPassphrase,
    listenHost: nonEmpty(env.TRUSTROOT_LISTEN_HOST) ?? '0.0.0.0',
    httpsPort: parsePort(env.TRUSTROOT_HTTPS_PORT ?? '8443', 'TRUSTROOT_HTTPS_PORT'),
    httpPort,
    hostnames,
    publicHttpUrl,
    tlsCertificateTtlSeconds: parseDurationSeconds(env.TRUSTROOT_TLS_CERT_TTL ?? '24h', 'TRUSTROOT_TLS_CERT_TTL'),
    bodyLimit: nonEmpty(env.TRUSTROOT_BODY_LIMIT) ?? '64kb',
    databaseStartupTimeoutSeconds: parseDurationSeconds(env.TRUSTROOT_DB_CONNECT_TIMEOUT ?? '60s', 'TRUSTROOT_DB_CONNECT_TIMEOUT'),
    databaseQueryTimeoutSeconds: parseDurationSeconds(env.TRUSTROOT_DB_QUERY_TIMEOUT ?? '5s', 'TRUSTROOT_DB_QUERY_TIMEOUT'),
    logLevel: nonEmpty(env.LOG_LEVEL) ?? 'info',
    crlValiditySeconds: parseDurationSeconds(env.TRUSTROOT_CRL_VALIDITY ?? '24h', 'TRUSTROOT_CRL_VALIDITY'),
    crlRefreshSeconds: parseDurationSeconds(env.TRUSTROOT_CRL_REFRESH ?? '1h', 'TRUSTROOT_CRL_REFRESH'),
    ocspValiditySeconds: parseDurationSeconds(env.TRUSTROOT_OCSP_VALIDITY ?? '1h', 'TRUSTROOT_OCSP_VALIDITY'),
    expiryThresholds: nonEmpty(env.TRUSTROOT_EXPIRY_THRESHOLDS) ?? '30d,14d,7d,1d,75%,90%',
    jobSchedules: {
      'expiry-scan': nonEmpty(env.TRUSTROOT_CRON_EXPIRY_SCAN) ?? '*/5 * * * *',
      'mark-expired': nonEmpty(env.TRUSTROOT_CRON_MARK_EXPIRED) ?? '* * * * *',
      'crl-refresh': nonEmpty(env.TRUSTROOT_CRON_CRL_REFRESH) ?? '*/5 * * * *',
      'deliver-notifications': nonEmpty(env.TRUSTROOT_CRON_DELIVER_NOTIFICATIONS) ?? '*/15 * * * * *',
    },
    schedulerEnabled: parseSwitch(env.TRUSTROOT_SCHEDULER ?? 'on', 'TRUSTROOT_SCHEDULER'),
    rateLimits: {
      costlyPerSource: parseRate(env.TRUSTROOT_RATE_LIMIT_PER_SOURCE ?? '6000/min', 'TRUSTROOT_RATE_LIMIT_PER_SOURCE'),
      costlyPerCaller: parseRate(env.TRUSTROOT_RATE_LIMIT_PER_CALLER ?? '600/min', 'TRUSTROOT_RATE_LIMIT_PER_CALLER'),
      authFailuresPerSource: parseRate(env.TRUSTROOT_RATE_LIMIT_AUTH_FAILURES ?? '20/min', 'TRUSTROOT_RATE_LIMIT_AUTH_FAILURES'),
    },
    maxConcurrentRequests: parsePositiveInteger(env.TRUSTROOT_MAX_CONCURRENT_REQUESTS ?? '512', 'TRUSTROOT_MAX_CONCURRENT_REQUESTS'),
    profilesFile: nonEmpty(env.TRUSTROOT_PROFILES_FILE) ? path.resolve(cwd, env.TRUSTROOT_PROFILES_FILE ?? '') : undefined,
    bootstrapAdminToken: nonEmpty(env.TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN),
  };
}
