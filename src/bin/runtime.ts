import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { readFile } from 'node:fs/promises';
import { loadOrCreateCaHierarchy, type CaHierarchy } from '../app/ca-hierarchy.service.ts';
import { CrlPublisher } from '../app/crl-publisher.service.ts';
import { ExpiryScanService } from '../app/expiry-scan.service.ts';
import { JobRunner } from '../app/job-runner.ts';
import { LifecycleAdministration } from '../app/lifecycle-admin.service.ts';
import { NotificationDeliveryService } from '../app/notification-delivery.service.ts';
import { parseExpiryThresholds } from '../domain/lifecycle/expiry-thresholds.ts';
import { JobScheduler, validateSchedules } from '../scheduler/job-scheduler.ts';
import { HttpWebhookSender } from '../scheduler/webhook-sender.ts';
import { PrismaLifecycleRepository } from '../storage/lifecycle.repository.ts';
import { PrometheusMetrics } from '../http/prometheus-metrics.ts';
import { PrismaMetricsRepository } from '../storage/metrics.repository.ts';
import { AuditService } from '../app/audit.service.ts';
import { PrismaAuditRepository } from '../storage/audit.repository.ts';
import { InventoryService } from '../app/inventory.service.ts';
import { OcspResponderService } from '../app/ocsp-responder.service.ts';
import { RevocationService } from '../app/revocation.service.ts';
import { PrismaCrlRepository } from '../storage/crl.repository.ts';
import { PrismaRevocationRepository } from '../storage/revocation.repository.ts';
import { IssuanceService } from '../app/issuance.service.ts';
import { ServiceAdministration } from '../app/services.service.ts';
import { TokenAdministration } from '../app/tokens.service.ts';
import { Authenticator } from '../auth/authenticator.ts';
import { DEFAULT_PROFILES } from '../domain/default-profiles.ts';
import { ProfileCatalog } from '../domain/profile-catalog.ts';
import { PrismaServiceRepository } from '../storage/service.repository.ts';
import { PrismaTokenRepository } from '../storage/token.repository.ts';
import { isUniqueViolation } from '../storage/storage-error.ts';
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
import { DEFAULT_SCRYPT, WrongPassphraseError, type ScryptParameters } from '../keys/key-encryption.ts';
import { resolveKeyPassphrase } from '../keys/key-passphrase.ts';
import { PrismaCertificateRepository } from '../storage/certificate.repository.ts';
import { PrismaDatabaseHealth } from '../storage/database-health.ts';
import { isDatabaseUpToDate } from '../storage/database-migrations.ts';
import { migrateDatabaseInChildProcess } from '../storage/migrate-in-child-process.ts';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../storage/embedded-postgres.ts';
import { PrismaIssuerRepository } from '../storage/issuer.repository.ts';
import { createPrismaClient, type PrismaClient } from '../storage/prisma-client.ts';
import { waitForDatabase } from '../storage/wait-for-database.ts';
import { secureRandom, systemClock } from './system.ts';

export interface RuntimeOverrides {
  clock?: Clock;
  random?: RandomSource;
  /** The draws of webhook retry backoff alone (default: `random`), so that a test can observe a backoff. */
  retryRandom?: RandomSource;
}

/**
 * Opens the CA key folder; a wrong passphrase fails here, before anything else is touched.
 * `scryptParams` is the cost of a keyring created now (an existing one keeps the cost it was made
 * with); the tests, which create dozens of keyrings, pass a cheap one.
 */
export async function openKeyStore(config: Config, logger: Logger, scryptParams: ScryptParameters = DEFAULT_SCRYPT): Promise<FileKeyStore> {
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
  return FileKeyStore.open(keysDir, resolved.passphrase, scryptParams);
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
    const applied = (await isDatabaseUpToDate(connectionString)) ? [] : await migrateDatabaseInChildProcess(connectionString);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  return { connectionString, embedded };
}

/**
 * The certificate profiles: TRUSTROOT_PROFILES_FILE (a JSON array) or the built-in ones,
 * validated against the loaded hierarchy. Any problem stops start-up.
 */
export async function loadProfiles(config: Config, hierarchy: CaHierarchy, now: Date): Promise<ProfileCatalog> {
  const thresholds = (() => {
    try {
      return parseExpiryThresholds(config.expiryThresholds);
    } catch (error) {
      throw new Error(`TRUSTROOT_EXPIRY_THRESHOLDS: ${error instanceof Error ? error.message : String(error)}`);
    }
  })();
  const raw: unknown = config.profilesFile
    ? JSON.parse(await readFile(config.profilesFile, 'utf8').catch((error: Error) => {
        throw new Error(`TRUSTROOT_PROFILES_FILE: ${error.message}`);
      }))
    : DEFAULT_PROFILES;
  return ProfileCatalog.fromConfig(raw, (issuer) => Math.floor((hierarchy.get(issuer).record.notAfter.getTime() - now.getTime()) / 1000), thresholds);
}

/**
 * Creates the first admin API token when none exists (first start), and returns it so that the
 * caller prints it once. Never logged.
 */
export async function ensureInitialAdminToken(config: Config, tokens: TokenAdministration, repository: PrismaTokenRepository): Promise<string | undefined> {
  if ((await repository.countApiTokens()) > 0) return undefined;
  try {
    return await tokens.createInitialAdminToken(config.bootstrapAdminToken);
  } catch (error) {
    // Another replica created it first with the same configured value.
    if (isUniqueViolation(error)) return undefined;
    throw error;
  }
}

/** One line for an operator saying why start-up (or a CA script) failed. */
export function describeStartupFailure(error: unknown): string {
  if (error instanceof WrongPassphraseError) {
    return 'TRUSTROOT_KEY_PASSPHRASE is wrong: it does not decrypt the CA keys in the data directory; nothing was changed';
  }
  return error instanceof Error ? error.message : String(error);
}

/** Prints the first admin token once, on stdout, outside the structured (redacted) logs. */
export function announceInitialAdminToken(token: string): void {
  process.stdout.write(
    `\n  First admin API token (shown once; store it in your secret manager):\n\n    ${token}\n\n` +
      '  Use it as "Authorization: Bearer <token>" to create services, tokens and certificates.\n\n',
  );
}

export interface TrustrootInstance {
  hierarchy: CaHierarchy;
  /** The first admin API token, when this start created it. */
  initialAdminToken: string | undefined;
  /** The express apps of the two listeners (for route inventory checks). */
  apps: { api: Express; public: Express };
  apiPort: number;
  httpPort: number;
  rotation: TlsCertificateRotation;
  crls: CrlPublisher;
  /** Runs a scheduled job's tick by hand (tests drive time; the scheduler does the same on cron). */
  jobs: JobRunner;
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
  // Every schedule is checked even when this replica runs no jobs: a typo must fail every start.
  validateSchedules(config.jobSchedules);
  const prisma = createPrismaClient(database.connectionString, { queryTimeoutSeconds: config.databaseQueryTimeoutSeconds });
  const listeners: RunningListener[] = [];
  let rotationTimer: NodeJS.Timeout | undefined;
  let scheduler: JobScheduler | undefined;
  const stop = async (): Promise<void> => {
    if (rotationTimer) clearInterval(rotationTimer);
    await scheduler?.stop();
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
    const metrics = new PrometheusMetrics({
      inventory: new PrismaMetricsRepository(prisma),
      clock,
      onScrapeError: (error, gauge) => logger.warn({ err: error, gauge }, 'metrics: inventory query failed; gauge left out of this scrape'),
    });
    const profiles = await loadProfiles(config, hierarchy, clock.now());
    const serviceRepository = new PrismaServiceRepository(prisma);
    const tokenRepository = new PrismaTokenRepository(prisma);
    const certificateRepository = new PrismaCertificateRepository(prisma);
    const tokens = new TokenAdministration(tokenRepository, serviceRepository, clock, random);
    const revocationRepository = new PrismaRevocationRepository(prisma);
    const crlRepository = new PrismaCrlRepository(prisma);
    const crls = new CrlPublisher(hierarchy, crlRepository, clock, {
      validitySeconds: config.crlValiditySeconds,
      refreshSeconds: config.crlRefreshSeconds,
    });
    // Every issuer has a CRL before the first relying party asks for one.
    await crls.publishDue();
    const initialAdminToken = await ensureInitialAdminToken(config, tokens, tokenRepository);
    const lifecycleRepository = new PrismaLifecycleRepository(prisma);
    const expiryScan = new ExpiryScanService(lifecycleRepository, lifecycleRepository, profiles, clock);
    const delivery = new NotificationDeliveryService(lifecycleRepository, new HttpWebhookSender(), keys.secretSealer(), clock, overrides.retryRandom ?? random);
    const jobRunner = new JobRunner(
      lifecycleRepository,
      {
        'expiry-scan': () => expiryScan.scan(),
        'mark-expired': () => expiryScan.markExpired(),
        'crl-refresh': async () => (await crls.publishDue()).length,
        'deliver-notifications': async () => {
          const result = await delivery.deliverDue();
          return result.delivered + result.failed + result.deadLettered;
        },
      },
      clock,
      metrics,
      logger,
    );
    const useCases = {
      authenticator: new Authenticator(tokenRepository, certificateRepository, serviceRepository, clock),
      services: new ServiceAdministration(serviceRepository, profiles, clock, keys.secretSealer(), random),
      tokens,
      issuance: new IssuanceService({
        hierarchy,
        profiles,
        services: serviceRepository,
        certificates: certificateRepository,
        store: certificateRepository,
        clock,
        random,
        publicHttpUrl: config.publicHttpUrl,
        blockedKeys: revocationRepository,
        metrics,
      }),
      inventory: new InventoryService(certificateRepository, clock),
      revocation: new RevocationService(revocationRepository, crls, clock, logger, lifecycleRepository, metrics),
      lifecycle: new LifecycleAdministration(
        lifecycleRepository,
        serviceRepository,
        lifecycleRepository,
        lifecycleRepository,
        lifecycleRepository,
        config.jobSchedules,
        clock,
      ),
      audit: new AuditService(new PrismaAuditRepository(prisma)),
    };
    const publicUseCases = {
      crls,
      ocsp: new OcspResponderService(hierarchy, crlRepository, clock, config.ocspValiditySeconds, logger),
    };
    const httpDeps = {
      logger,
      openApi: loadOpenApiDocument(),
      bodyLimit: config.bodyLimit,
      database: new PrismaDatabaseHealth(prisma),
      catalog: () => catalog,
      metrics,
      rateLimits: config.rateLimits,
      maxConcurrentRequests: config.maxConcurrentRequests,
    };
    const clientCaPem = hierarchy.list().map((issuer) => certificatePem(issuer.signer.certificate)).join('');
    const certificates = certificateRepository;
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
    const apps = { api: createApiApp(httpDeps, useCases), public: createPublicApp(httpDeps, publicUseCases) };
    const api = await startHttpsListener(apps.api, { ...credentials, clientCaPem }, config.httpsPort, config.listenHost);
    apiListener.current = api;
    listeners.push(api);
    const publicListener = await startHttpListener(apps.public, config.httpPort, config.listenHost);
    listeners.push(publicListener);
    rotationTimer = setInterval(() => {
      rotation.rotateIfDue().catch((error: unknown) => logger.error({ err: error }, 'API TLS certificate rotation failed; will retry'));
    }, TLS_ROTATION_CHECK_MS);
    if (config.schedulerEnabled) {
      scheduler = new JobScheduler(jobRunner, config.jobSchedules);
      scheduler.start();
    }
    rotationTimer.unref();
    logger.info({ httpsPort: api.port, httpPort: publicListener.port, host: config.listenHost }, 'Trustroot is serving');
    return { hierarchy, initialAdminToken, apps, crls, jobs: jobRunner, apiPort: api.port, httpPort: publicListener.port, rotation, prisma, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
