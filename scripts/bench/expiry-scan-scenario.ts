import pg from 'pg';
import { ExpiryScanService } from '../../src/app/expiry-scan.service.ts';
import { systemClock } from '../../src/bin/system.ts';
import { DEFAULT_PROFILES } from '../../src/domain/default-profiles.ts';
import { DEFAULT_EXPIRY_THRESHOLDS } from '../../src/domain/lifecycle/expiry-thresholds.ts';
import { ProfileCatalog } from '../../src/domain/profile-catalog.ts';
import { PrismaLifecycleRepository } from '../../src/storage/lifecycle.repository.ts';
import { createPrismaClient } from '../../src/storage/prisma-client.ts';
import type { BenchPlan } from './bench-plan.ts';
import type { BenchClient } from './http-client.ts';
import type { ServerProcess } from './server-process.ts';
import { summarize, type Summary } from './stats.ts';
import { registerService } from './trustroot-api.ts';

export interface ExpiryScanResult {
  /** Certificates stored when the scan ran (the inventory size under test). */
  inventory: number;
  /** Certificates due for flagging at each timed scan. */
  due: number;
  /** Flags each timed scan raised (2 per due certificate: 7d and 75%). */
  flagsPerScan: number;
  /** ExpiryScanService.scan() with `due` certificates due (ms). */
  scanMs: Summary;
  /** The same scan right after, with nothing due: what the inventory size alone costs (ms). */
  idleScanMs: Summary;
  /** Untimed set-up: seconds to bulk-insert the rows added for this size. */
  insertSeconds: number;
}

export const LIFECYCLE_SERVICE = 'bench-lifecycle';
const INSERT_CHUNK = 250_000;

/**
 * Inserts active `peer` certificates of one service (issuer $1, service $2), one per `g` of
 * `series`, named `<label>-<g>.bench.svc` with serials `<serialPrefix><g>`, and returns their
 * `id` and `serial_hex`. Only the columns the scan and the constraints need carry realistic
 * values; `der` is a placeholder, the scan never reads it.
 */
function insertSyntheticCertificates(options: { serialPrefix: string; label: string; notBefore: string; notAfter: string; series: string }): string {
  const { serialPrefix, label, notBefore, notAfter, series } = options;
  const name = `'${label}-' || g || '.bench.svc'`;
  return `
  INSERT INTO certificates (id, issuer_id, serial_hex, service_id, profile, subject_dn, common_name, dns_names, ip_addresses, uris,
                            name_text, key_algorithm, spki_sha256, fingerprint_sha256, not_before, not_after, status, der)
  SELECT gen_random_uuid(), $1, '${serialPrefix}' || lpad(to_hex(g), 30, '0'), $2, 'peer', 'CN=' || ${name}, ${name},
         ARRAY[${name}], '{}', '{}', ${name}, 'ecdsa-p256',
         md5('${label}spki' || g) || md5(g || '${label}spki'), md5('${label}fp' || g) || md5(g || '${label}fp'),
         ${notBefore}, ${notAfter}, 'active', '\\x3000'::bytea
  FROM generate_series(${series}) AS g
  RETURNING id, serial_hex`;
}

/**
 * Rows `first..last` ($3, $4) of a synthetic inventory, not due: their next threshold falls 7 to
 * 37 days from now, spread over the range as in a live inventory.
 */
const INSERT_NOT_DUE = `
WITH bulk AS (${insertSyntheticCertificates({ serialPrefix: 'b1', label: 'bulk', notBefore: "now() - interval '1 day'", notAfter: "now() + interval '60 days'", series: '$3::bigint, $4::bigint' })}
)
INSERT INTO certificate_flag_schedule (certificate_id, next_flag_at)
SELECT id, now() + interval '7 days' + (('x' || right(serial_hex, 8))::bit(32)::bigint % 2592000) * interval '1 second' FROM bulk`;

/**
 * $3 due certificates: 20 days into a 25-day life, so the 7d and 75% thresholds are crossed (the
 * 30d and 14d ones do not apply to a life this short, 1d and 90% are still ahead).
 */
const INSERT_DUE = `
WITH due AS (${insertSyntheticCertificates({ serialPrefix: 'd1', label: 'due', notBefore: "now() - interval '20 days'", notAfter: "now() + interval '5 days'", series: '1, $3::bigint' })}
), scheduled AS (
  INSERT INTO certificate_flag_schedule (certificate_id, next_flag_at) SELECT id, now() - interval '1 minute' FROM due
)
SELECT id FROM due`;

/** Makes the due certificates due again: their alerts and notifications go, their next flag time returns to the past. */
async function resetDue(db: pg.Client, dueIds: string[]): Promise<void> {
  await db.query('BEGIN');
  await db.query('DELETE FROM notifications WHERE alert_id IN (SELECT id FROM alerts WHERE certificate_id = ANY($1::uuid[]))', [dueIds]);
  await db.query('DELETE FROM alerts WHERE certificate_id = ANY($1::uuid[])', [dueIds]);
  await db.query(
    `INSERT INTO certificate_flag_schedule (certificate_id, next_flag_at) SELECT id, now() - interval '1 minute' FROM unnest($1::uuid[]) AS id
     ON CONFLICT (certificate_id) DO UPDATE SET next_flag_at = EXCLUDED.next_flag_at`,
    [dueIds],
  );
  await db.query('COMMIT');
}

/**
 * Expiry scan time with each inventory size stored: the rows are bulk-inserted with
 * `INSERT … SELECT generate_series` (untimed), a few hundred of them due, then
 * `ExpiryScanService.scan()` — what the `expiry-scan` job's tick runs — is timed with the due
 * ones, and again with none due. Runs in this process against the server's database.
 */
export async function benchExpiryScan(
  server: ServerProcess,
  admin: BenchClient,
  databaseUrl: string,
  plan: BenchPlan,
  log: (line: string) => void,
): Promise<ExpiryScanResult[]> {
  await registerService(admin, server.adminToken, LIFECYCLE_SERVICE, ['*.bench.svc']);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const prisma = createPrismaClient(databaseUrl, { queryTimeoutSeconds: 60 });
  try {
    const ids = await db.query<{ issuer: string; service: string }>(
      "SELECT (SELECT id FROM issuers WHERE name = 'intermediate') AS issuer, (SELECT id FROM services WHERE name = $1) AS service",
      [LIFECYCLE_SERVICE],
    );
    const { issuer, service } = ids.rows[0] ?? { issuer: '', service: '' };
    const repository = new PrismaLifecycleRepository(prisma);
    const profiles = ProfileCatalog.fromConfig(DEFAULT_PROFILES, () => 10 * 365 * 86_400, DEFAULT_EXPIRY_THRESHOLDS);
    const scanner = new ExpiryScanService(repository, repository, profiles, systemClock);
    await scanner.scan(); // opens the connections; nothing of ours is due yet
    const due = await db.query<{ id: string }>(INSERT_DUE, [issuer, service, plan.lifecycle.due]);
    const dueIds = due.rows.map((row) => row.id);
    let stored = (await db.query<{ count: string }>('SELECT count(*) AS count FROM certificates')).rows[0]?.count ?? '0';
    let inserted = 0;
    const results: ExpiryScanResult[] = [];
    for (const size of plan.lifecycle.inventorySizes) {
      const started = performance.now();
      // Up to `size` certificates in all: the bulk rows plus the due ones and those issued earlier.
      const target = Math.max(0, size - Number(stored));
      for (let first = inserted + 1; first <= inserted + target; first += INSERT_CHUNK) {
        await db.query(INSERT_NOT_DUE, [issuer, service, first, Math.min(first + INSERT_CHUNK - 1, inserted + target)]);
      }
      inserted += target;
      await db.query('ANALYZE certificates');
      const insertSeconds = (performance.now() - started) / 1000;
      stored = (await db.query<{ count: string }>('SELECT count(*) AS count FROM certificates')).rows[0]?.count ?? '0';
      log(`  inventory ${Number(stored).toLocaleString('en-US')} certificates (${target.toLocaleString('en-US')} inserted in ${insertSeconds.toFixed(1)} s)`);
      const scans: number[] = [];
      const idle: number[] = [];
      let flagsPerScan = 0;
      for (let repetition = 0; repetition < plan.repetitions; repetition += 1) {
        await resetDue(db, dueIds);
        const scanStarted = performance.now();
        flagsPerScan = await scanner.scan();
        scans.push(performance.now() - scanStarted);
        const idleStarted = performance.now();
        const extra = await scanner.scan();
        idle.push(performance.now() - idleStarted);
        if (flagsPerScan !== 2 * dueIds.length || extra !== 0) {
          throw new Error(`the scan raised ${flagsPerScan} flags then ${extra}; expected ${2 * dueIds.length} then 0`);
        }
      }
      const result: ExpiryScanResult = {
        inventory: Number(stored),
        due: dueIds.length,
        flagsPerScan,
        scanMs: summarize(scans),
        idleScanMs: summarize(idle),
        insertSeconds,
      };
      log(`  expiry scan at ${result.inventory.toLocaleString('en-US')}: ${result.scanMs.median.toFixed(0)} ms with ${result.due} due, ${result.idleScanMs.median.toFixed(1)} ms with none due`);
      results.push(result);
    }
    return results;
  } finally {
    await prisma.$disconnect();
    await db.end();
  }
}
