import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';
import { poolConfigFromUrl } from './pool-config.ts';

export type { PrismaClient };

export interface PrismaClientOptions {
  /** Bound, in seconds, on acquiring a connection and on each statement; a lost database fails fast. */
  queryTimeoutSeconds: number;
  /** Pool size (default 10). */
  maxConnections?: number;
}

/** A Prisma client on the Rust-free pg driver adapter. The caller owns it and disconnects it. */
export function createPrismaClient(connectionString: string, options: PrismaClientOptions): PrismaClient {
  const timeoutMs = options.queryTimeoutSeconds * 1000;
  const adapter = new PrismaPg({
    ...poolConfigFromUrl(connectionString),
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1000,
    idleTimeoutMillis: 30_000,
  });
  return new PrismaClient({ adapter });
}
