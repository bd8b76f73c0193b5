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

/** A read of rows by a text key, as the statement for one key and the statement for several. */
export interface KeyLookup {
  readonly one: SqlStatement;
  readonly many: SqlStatement;
}

/**
 * `select` (a SELECT without its WHERE clause) for the rows whose `keyColumn` is one of the keys.
 * Two statements, because PostgreSQL never plans `= ANY($1)` once and for all on a small or
 * freshly filled table: its generic plan is costed for ten keys, which loses to a plan made for
 * the actual count, so it plans every execution anew (pg_prepared_statements.custom_plans) —
 * 0.1–0.3 ms of PostgreSQL's time for an index probe, on every lone lookup (the statement log's
 * bind durations; BENCHMARKS.md, change 19). `= $1` costs the same generic or custom, so
 * PostgreSQL keeps its generic plan after five executions. A batch of several keys is planned
 * for its keys, once per batch: a generic plan for any count could freeze a sequential scan on
 * a table not yet analysed (change 19 again).
 */
export function keyLookup(name: string, select: string, keyColumn: string): KeyLookup {
  return {
    one: sqlStatement(`${name}_one`, `${select} WHERE ${keyColumn} = $1`),
    many: sqlStatement(name, `${select} WHERE ${keyColumn} = ANY($1::text[])`),
  };
}

/** The rows of `keys` through the statement for their count. */
export function rowsByKeys<T>(session: SqlSession, lookup: KeyLookup, keys: readonly string[]): Promise<T[]> {
  return keys.length === 1 ? session.rows<T>(lookup.one, keys) : session.rows<T>(lookup.many, [keys]);
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

/** A session inside a transaction, which may also end it with its last statement. */
export interface SqlTransactionSession extends SqlSession {
  /**
   * Runs the transaction's last statement and COMMIT in one round trip, and returns the
   * statement's rows once both succeeded. If the statement fails, PostgreSQL answers the COMMIT
   * behind it with a rollback. So a statement that must be able to undo the transaction has to
   * fail, not merely return something the caller would refuse: the caller sees its rows only
   * after they are committed. Nothing may be sent in the transaction afterwards, and the work
   * should not fail afterwards either: what was committed stays committed.
   */
  rowsThenCommit<T>(statement: SqlStatement, values: readonly unknown[]): Promise<T[]>;
}

/**
 * Sends every query that `send` starts in one write to the connection's socket. The connection
 * must be in pipeline mode (`createPrismaClient` sets it), where pg sends a query at once instead
 * of after the previous one's answer: PostgreSQL then reads them together, and answers each in
 * turn, in one round trip. On loopback each write also pays for waking the backend, which is
 * what makes a round trip dear on a small machine (BENCHMARKS.md).
 */
export function sendTogether<T>(client: pg.PoolClient, send: () => T): T {
  const socket = client.connection.stream;
  socket.cork();
  try {
    return send();
  } finally {
    socket.uncork();
  }
}

/**
 * Runs `work` in one transaction on one pooled connection: committed if it returns, rolled back
 * if it throws. A connection whose rollback failed is discarded rather than returned to the pool
 * in an unknown state.
 *
 * BEGIN is not a round trip of its own: it goes in one write with the statements `work` sends
 * before it first waits. That is safe because BEGIN on an idle connection cannot fail
 * unless the connection does, and then nothing behind it runs either. Likewise COMMIT goes with
 * the last statement when `work` ends with `rowsThenCommit`.
 */
export async function inSqlTransaction<T>(pool: pg.Pool, work: (session: SqlTransactionSession) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  if (!client.pipeline) {
    client.release();
    throw new Error('inSqlTransaction needs a pool in pipeline mode (createPrismaClient makes one)');
  }
  let broken: Error | undefined;
  let committed = false;
  const ensureOpen = () => {
    if (committed) throw new Error('a statement was sent after the transaction was committed');
  };
  const prepared = preparedSession((config) => client.query(config));
  const session: SqlTransactionSession = {
    rows<R>(statement: SqlStatement, values: readonly unknown[]): Promise<R[]> {
      ensureOpen();
      return prepared.rows<R>(statement, values);
    },
    async rowsThenCommit<R>(statement: SqlStatement, values: readonly unknown[]): Promise<R[]> {
      ensureOpen();
      committed = true;
      // prepared.rows sends its query before it first waits, so both go in the one write.
      const [rows, commit] = sendTogether(client, () => [prepared.rows<R>(statement, values), client.query('COMMIT')] as const);
      // Both settle: a failed statement turns the COMMIT into a rollback, which is not an error.
      const [statementResult, commitResult] = await Promise.allSettled([rows, commit]);
      if (statementResult.status === 'rejected') throw statementResult.reason;
      if (commitResult.status === 'rejected') throw commitResult.reason;
      return statementResult.value;
    },
  };
  try {
    const [begun, working] = sendTogether(client, () => [client.query('BEGIN'), work(session)] as const);
    const [beginResult, workResult] = await Promise.allSettled([begun, working]);
    if (beginResult.status === 'rejected') throw beginResult.reason;
    if (workResult.status === 'rejected') throw workResult.reason;
    if (!committed) {
      committed = true;
      await client.query('COMMIT');
    }
    return workResult.value;
  } catch (error) {
    try {
      // After a failed rowsThenCommit there is no transaction left: PostgreSQL only warns.
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
