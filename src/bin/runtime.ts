import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { loadOrCreateCaHierarchy, type CaHierarchy } from '../app/ca-hierarchy.service.ts';
import { IssuerCatalog } from '../app/issuer-catalog.ts';
import {
  issueTlsServerCertificate,
  TlsCertificateRotation,
} from '../app/tls-server-certificate.service.ts';
import type { Config } from '../config/config.ts';
import { CA_HIERARCHY } from '../domain/ca-hierarchy.ts';
import type { Clock, RandomSource } from '../domain/clock.ts';
import { certificatePem } from '../domain/x509/certificate-facts.ts';
import { createApiApp, createPublicApp } from '../http/apps.ts';
import { startHttpListener, startHttpsListener, tlsContextOptions, type RunningListener } from '../http/listeners.ts';
import { loadOpenApiDocument } from '../http/openapi-document.ts';
import { FileKeyStore } from '../keys/file-key-store.ts';
import { resolveKeyPassphrase } from '../keys/key-passphrase.ts';
import { PrismaCertificateRepository } from '../storage/certificate.repository.ts';
import { PrismaDatabaseHealth } from '../storage/database-health.ts';
import { migrateDatabase } from '../storage/database-migrations.ts';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../storage/embedded-postgres.ts';
import { PrismaIssuerRepository } from '../storage/issuer.repository.ts';
import { createPrismaClient, type PrismaClient } from '../storage/prisma-client.ts';
import { waitForDatabase } from '../storage/wait-for-database.ts';
import { secureRandom, systemClock } from './system.ts';

export interface RuntimeOverrides {
  clock?: Clock;
  random?: RandomSource;
}

/** Opens the CA key folder; a wrong passphrase fails here, before anything else is touched. */
export async function openKeyStore(config: Config, logger: Logger): Promise<FileKeyStore> {
  const keysDir = path.join(config.dataDir, 'keys');
  await mkdir(config.dataDir, { recursive: true, mode: 0o755 });
  const resolved = await resolveKeyPassphrase(config.keyPassphrase, config.dataDir, keysDir);
  if (resolved.source !== 'environment') {
    logger.warn(
      { file: resolved.file },
      resolved.source === 'generated'
        ? 'TRUSTROOT_KEY_PASSPHRASE is not set: generated a development passphrase into the data directory. Set TRUSTROOT_KEY_PASSPHRASE in production.'
        : 'TRUSTROOT_KEY_PASSPHRASE is not set: using the development passphrase file. Set TRUSTROOT_KEY_PASSPHRASE in production.',
    );
  }
  return FileKeyStore.open(keysDir, resolved.passphrase);
}

export interface OpenDatabase {
  connectionString: string;
  embedded: RunningEmbeddedPostgres | undefined;
}

/** DATABASE_URL when set (waited for with backoff), else an embedded PostgreSQL; migrated either way. */
export async function openDatabase(config: Config, logger: Logger): Promise<OpenDatabase> {
  let embedded: RunningEmbeddedPostgres | undefined;
  let connectionString = config.databaseUrl;
  if (connectionString === undefined) {
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPostgresPort,
      onLog: (message) => logger.debug({ component: 'embedded-postgres' }, message.trim()),
    });
    connectionString = embedded.connectionString;
    logger.info({ dataDir: config.dataDir, port: config.embeddedPostgresPort }, 'embedded PostgreSQL started');
  }
  try {
    await waitForDatabase(connectionString, {
      timeoutSeconds: config.databaseStartupTimeoutSeconds,
      onRetry: (attempt, delayMs, error) =>
        logger.warn({ attempt, retryInMs: delayMs, reason: error.message }, 'database not reachable yet; retrying'),
    });
    const applied = await migrateDatabase(connectionString);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  return { connectionString, embedded };
}

export interface TrustrootInstance {
  hierarchy: CaHierarchy;
  apiPort: number;
  httpPort: number;
  rotation: TlsCertificateRotation;
  prisma: PrismaClient;
  stop(): Promise<void>;
}

/** How often the API certificate's age is checked; it is replaced at two thirds of its life. */
const TLS_ROTATION_CHECK_MS = 60_000;

/**
 * Starts Trustroot on an open database: loads (or creates) the CA hierarchy, issues the API's
 * TLS certificate, and serves both listeners. `stop()` closes everything it opened.
 */
export async function startTrustroot(
  config: Config,
  logger: Logger,
  keys: FileKeyStore,
  database: OpenDatabase,
  overrides: RuntimeOverrides = {},
): Promise<TrustrootInstance> {
  const clock = overrides.clock ?? systemClock;
  const random = overrides.random ?? secureRandom;
  const prisma = createPrismaClient(database.connectionString, { queryTimeoutSeconds: config.databaseQueryTimeoutSeconds });
  const listeners: RunningListener[] = [];
  let rotationTimer: NodeJS.Timeout | undefined;
  const stop = async (): Promise<void> => {
    if (rotationTimer) clearInterval(rotationTimer);
    await Promise.all(listeners.map((listener) => listener.close()));
    await prisma.$disconnect();
    await database.embedded?.stop();
  };
  try {
    const issuers = new PrismaIssuerRepository(prisma);
    const { hierarchy, created } = await loadOrCreateCaHierarchy({
      issuers,
      keys,
      clock,
      random,
      publicHttpUrl: config.publicHttpUrl,
    });
    logger.info(
      { created, issuers: CA_HIERARCHY.map((d) => ({ name: d.name, fingerprintSha256: hierarchy.get(d.name).record.fingerprintSha256 })) },
      created ? 'CA hierarchy created' : 'CA hierarchy loaded',
    );
    const catalog = new IssuerCatalog(hierarchy, config.publicHttpUrl);
    const httpDeps = {
      logger,
      openApi: loadOpenApiDocument(),
      bodyLimit: config.bodyLimit,
      database: new PrismaDatabaseHealth(prisma),
      catalog: () => catalog,
    };
    const clientCaPem = hierarchy.list().map((issuer) => certificatePem(issuer.signer.certificate)).join('');
    const certificates = new PrismaCertificateRepository(prisma);
    // The rotation installs certificates into the listener, which needs the first certificate to start.
    const apiListener: { current?: Awaited<ReturnType<typeof startHttpsListener>> } = {};
    const rotation = new TlsCertificateRotation(
      () =>
        issueTlsServerCertificate(
          { hierarchy, certificates, clock, random, publicHttpUrl: config.publicHttpUrl },
          config.hostnames,
          config.tlsCertificateTtlSeconds,
        ),
      (credentials) => {
        apiListener.current?.server.setSecureContext(tlsContextOptions({ ...credentials, clientCaPem }));
        logger.info({ serial: credentials.serialHex, notAfter: credentials.notAfter.toISOString() }, 'API TLS certificate installed');
      },
      clock,
    );
    const credentials = await rotation.start();
    const api = await startHttpsListener(createApiApp(httpDeps), { ...credentials, clientCaPem }, config.httpsPort, config.listenHost);
    apiListener.current = api;
    listeners.push(api);
    const publicListener = await startHttpListener(createPublicApp(httpDeps), config.httpPort, config.listenHost);
    listeners.push(publicListener);
    rotationTimer = setInterval(() => {
      rotation.rotateIfDue().catch((error: unknown) => logger.error({ err: error }, 'API TLS certificate rotation failed; will retry'));
    }, TLS_ROTATION_CHECK_MS);
    rotationTimer.unref();
    logger.info({ httpsPort: api.port, httpPort: publicListener.port, host: config.listenHost }, 'Trustroot is serving');
    return { hierarchy, apiPort: api.port, httpPort: publicListener.port, rotation, prisma, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
