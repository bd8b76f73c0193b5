/**
 * `npm run ca:init`: the CA ceremony without serving. Opens the encrypted key folder, migrates
 * the database, creates the CA hierarchy if it does not exist yet, and prints its fingerprints.
 */
import { loadOrCreateCaHierarchy } from '../src/app/ca-hierarchy.service.ts';
import { createLogger } from '../src/bin/logger.ts';
import { announceInitialAdminToken, describeStartupFailure, ensureInitialAdminToken, openDatabase, openKeyStore } from '../src/bin/runtime.ts';
import { TokenAdministration } from '../src/app/tokens.service.ts';
import { PrismaServiceRepository } from '../src/storage/service.repository.ts';
import { PrismaTokenRepository } from '../src/storage/token.repository.ts';
import { secureRandom, systemClock } from '../src/bin/system.ts';
import { loadConfig } from '../src/config/config.ts';
import { CA_HIERARCHY } from '../src/domain/ca-hierarchy.ts';
import { PrismaIssuerRepository } from '../src/storage/issuer.repository.ts';
import { createPrismaClient } from '../src/storage/prisma-client.ts';

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
try {
  const keys = await openKeyStore(config, logger);
  const database = await openDatabase(config, logger);
  const prisma = createPrismaClient(database.connectionString, { queryTimeoutSeconds: config.databaseQueryTimeoutSeconds });
  try {
    const { hierarchy, created } = await loadOrCreateCaHierarchy({
      issuers: new PrismaIssuerRepository(prisma),
      keys,
      clock: systemClock,
      random: secureRandom,
      publicHttpUrl: config.publicHttpUrl,
    });
    process.stdout.write(created ? 'Created the CA hierarchy:\n' : 'The CA hierarchy already exists:\n');
    const tokenRepository = new PrismaTokenRepository(prisma);
    const tokens = new TokenAdministration(tokenRepository, new PrismaServiceRepository(prisma), systemClock, secureRandom);
    const adminToken = await ensureInitialAdminToken(config, tokens, tokenRepository);
    for (const definition of CA_HIERARCHY) {
      const { record } = hierarchy.get(definition.name);
      process.stdout.write(
        `  ${record.name.padEnd(18)} ${record.environment.padEnd(10)} sha256:${record.fingerprintSha256}  until ${record.notAfter.toISOString()}\n`,
      );
    }
    if (adminToken) announceInitialAdminToken(adminToken);
  } finally {
    await prisma.$disconnect();
    await database.embedded?.stop();
  }
  process.exit(0);
} catch (error) {
  process.stderr.write(`ca:init failed: ${describeStartupFailure(error)}\n`);
  process.exit(1);
}
