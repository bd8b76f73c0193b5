import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.ts';
import { poolConfigFromUrl } from './pool-config.ts';

export type { PrismaClient };

export interface PrismaClientOptions {
  /** Bound, in seconds, on acquiring a connection and on each statement; a lost database fails fast. */
  queryTimeoutSeconds: number;
  /** Pool size (default 10). */
  maxConnections?: number;
}

const sqlPools = new WeakMap<PrismaClient, pg.Pool>();

/**
 * A Prisma client on the Rust-free pg driver adapter, over a pg pool that the issuance hot path
 * also uses directly (see `sql-session.ts`). The caller owns the client and disconnects it;
 * disconnecting ends the pool.
 */
export function createPrismaClient(connectionString: string, options: PrismaClientOptions): PrismaClient {
  const timeoutMs = options.queryTimeoutSeconds * 1000;
  const pool = new pg.Pool({
    ...poolConfigFromUrl(connectionString),
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1000,
    idleTimeoutMillis: 30_000,
    // A query goes to PostgreSQL at once rather than after the previous one's answer, so that the
    // issuance group writer can send BEGIN and COMMIT with its statements (sql-session.ts). The
    // queries of one connection still run in the order they were sent; only the wait goes.
    pipeline: true,
  });
  // An idle connection dropped by the server: the pool discards it and the next query reconnects.
  // Without a listener the 'error' event would end the process.
  pool.on('error', () => undefined);
  const client = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  sqlPools.set(client, pool);
  return client;
}

/** The pg pool under a client made by `createPrismaClient`. */
export function sqlPoolOf(prisma: PrismaClient): pg.Pool {
  const pool = sqlPools.get(prisma);
  if (!pool) throw new Error('this Prisma client was not made by createPrismaClient, so it has no pg pool to share');
  return pool;
}
