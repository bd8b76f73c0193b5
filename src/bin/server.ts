import { ConfigError, loadConfig } from '../config/config.ts';
import { createLogger } from './logger.ts';
import { announceInitialAdminToken, describeStartupFailure, openDatabase, openKeyStore, startTrustroot } from './runtime.ts';
import { applyServerV8Settings } from './v8-memory-settings.ts';

/**
 * `npm start`: configuration → CA keys (a wrong passphrase stops here, before any change) →
 * database (embedded or DATABASE_URL, migrated) → CA hierarchy → listeners.
 */
async function main(): Promise<void> {
  applyServerV8Settings();
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`trustroot: configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  let instance: Awaited<ReturnType<typeof startTrustroot>> | undefined;
  try {
    const keys = await openKeyStore(config, logger);
    const database = await openDatabase(config, logger);
    instance = await startTrustroot(config, logger, keys, database);
    if (instance.initialAdminToken) announceInitialAdminToken(instance.initialAdminToken);
  } catch (error) {
    const message = describeStartupFailure(error);
    logger.fatal({ reason: message }, 'start-up failed');
    process.stderr.write(`trustroot: start-up failed: ${message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    instance
      ?.stop()
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

await main();
