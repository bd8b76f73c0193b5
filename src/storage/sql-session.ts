import type pg from 'pg';
import type { Prisma } from './generated/prisma/client.ts';

/**
 * A statement of the issuance hot path. It runs on the pg pool under the Prisma client as a
 * named prepared statement: PostgreSQL parses and plans it once per connection, and the driver
 * call costs ~0.06 ms of CPU where a Prisma raw query costs ~0.3 ms (measured; BENCHMARKS.md).
 * A name must always go with the same text, so statements are module-level constants.
 */
export interface SqlStatement {
  readonly name: string;
  readonly text: string;
}

/** Runs statements, inside a transaction or not; rows come back with pg's default type parsing. */
export interface SqlSession {
  rows<T>(statement: SqlStatement, values: readonly unknown[]): Promise<T[]>;
}

export function sqlStatement(name: string, text: string): SqlStatement {
  return { name: `trustroot_${name}`, text };
}

/** Statements as named prepared statements through `query` (a pool's or one connection's). */
function preparedSession(query: (config: pg.QueryConfig) => Promise<pg.QueryResult>): SqlSession {
  return {
    async rows<T>(statement: SqlStatement, values: readonly unknown[]): Promise<T[]> {
      const result = await query({ name: statement.name, text: statement.text, values: [...values] });
      return result.rows as T[];
    },
  };
}

/** Each statement on whichever pooled connection is free (autocommit). */
export function pooledSession(pool: pg.Pool): SqlSession {
  return preparedSession((config) => pool.query(config));
}

/** The same statements inside a Prisma interactive transaction (unprepared: Prisma has no named statements). */
export function prismaSession(tx: Prisma.TransactionClient): SqlSession {
  return {
    rows<T>(statement: SqlStatement, values: readonly unknown[]): Promise<T[]> {
      return tx.$queryRawUnsafe<T[]>(statement.text, ...values);
    },
  };
}

/** A session inside a transaction, which may also send several parameterless statements at once. */
export interface SqlTransactionSession extends SqlSession {
  /**
   * Sends `statements` in one round trip (pg's simple query protocol, which takes several
   * statements without parameters) and returns the rows of the last. Each statement starts
   * after the previous one finished, with its own snapshot (READ COMMITTED): a read placed after
   * a lock sees what had committed when the lock was granted.
   */
  lastRowsOf<T>(statements: readonly string[]): Promise<T[]>;
}

/**
 * Runs `work` in one transaction on one pooled connection: committed if it returns, rolled back
 * if it throws. A connection whose rollback failed is discarded rather than returned to the pool
 * in an unknown state.
 */
export async function inSqlTransaction<T>(pool: pg.Pool, work: (session: SqlTransactionSession) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const session: SqlTransactionSession = {
      ...preparedSession((config) => client.query(config)),
      async lastRowsOf<R>(statements: readonly string[]): Promise<R[]> {
        // pg answers a multi-statement text with one result per statement, a single one with just that.
        const results = (await client.query(statements.join('; '))) as pg.QueryResult | pg.QueryResult[];
        const last = Array.isArray(results) ? results.at(-1) : results;
        return (last?.rows ?? []) as R[];
      },
    };
    const result = await work(session);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
