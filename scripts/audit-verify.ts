/**
 * `npm run audit:verify`: checks the audit trail's hash chain in DATABASE_URL (or the embedded
 * PostgreSQL of TRUSTROOT_DATA_DIR) and names the first broken link. Exit 0 intact, 1 broken.
 */
import { AuditService } from '../src/app/audit.service.ts';
import { createLogger } from '../src/bin/logger.ts';
import { describeStartupFailure, openDatabase } from '../src/bin/runtime.ts';
import { loadConfig } from '../src/config/config.ts';
import { PrismaAuditRepository } from '../src/storage/audit.repository.ts';
import { createPrismaClient } from '../src/storage/prisma-client.ts';

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
try {
  const database = await openDatabase(config, logger);
  const prisma = createPrismaClient(database.connectionString, { queryTimeoutSeconds: config.databaseQueryTimeoutSeconds });
  try {
    const report = await new AuditService(new PrismaAuditRepository(prisma)).verify();
    if (report.ok) {
      process.stdout.write(`audit chain intact: ${report.checked} events\n`);
    } else {
      process.stdout.write(`audit chain BROKEN at event ${report.firstBroken?.seq}: ${report.firstBroken?.reason} (${report.checked} events read)\n`);
    }
    await prisma.$disconnect();
    await database.embedded?.stop();
    process.exit(report.ok ? 0 : 1);
  } catch (error) {
    await prisma.$disconnect();
    await database.embedded?.stop();
    throw error;
  }
} catch (error) {
  process.stderr.write(`audit:verify failed: ${describeStartupFailure(error)}\n`);
  process.exit(2);
}
