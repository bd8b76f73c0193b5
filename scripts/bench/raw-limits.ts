import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import pg from 'pg';
import { runForDuration, type LoadResult } from './closed-loop.ts';

/**
 * ECDSA P-256 signatures per second with Node's native, synchronous `crypto.sign` on one core
 * (this process's main thread) over a 512-byte message — about the size of a leaf's
 * TBSCertificate. The machine's ceiling for any CA that signs once per certificate.
 */
export function measureSignRate(seconds: number): number {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const message = randomBytes(512);
  // Warm up the key and the code path before timing.
  for (let i = 0; i < 200; i += 1) sign('sha256', message, privateKey);
  let count = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < 100; i += 1) sign('sha256', message, privateKey);
    count += 100;
  }
  return count / ((performance.now() - started) / 1000);
}

const SCRATCH_TABLE = 'bench_scratch_inserts';

/**
 * Single-row INSERT commits per second with `connections` connections (a pg Pool, one loop per
 * connection, autocommit) into a scratch table on the benchmark's database server — the
 * ceiling for any CA that commits once per certificate. The table is dropped afterwards.
 */
export async function measureInsertRate(databaseUrl: string, seconds: number, connections: number): Promise<LoadResult> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: connections });
  try {
    await pool.query(`DROP TABLE IF EXISTS ${SCRATCH_TABLE}`);
    await pool.query(`CREATE TABLE ${SCRATCH_TABLE} (id bigserial PRIMARY KEY, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
    // Open every connection before timing.
    await Promise.all(Array.from({ length: connections }, () => pool.query('SELECT 1')));
    const payload = randomBytes(96).toString('hex');
    return await runForDuration(seconds, connections, async () => {
      await pool.query(`INSERT INTO ${SCRATCH_TABLE} (payload) VALUES ($1)`, [payload]);
      return undefined;
    });
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${SCRATCH_TABLE}`).catch(() => undefined);
    await pool.end();
  }
}
