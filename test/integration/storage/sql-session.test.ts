import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { inSqlTransaction, sqlStatement } from '../../../src/storage/sql-session.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

const INSERT_ROW = sqlStatement('test_session_insert', 'INSERT INTO session_rows (name) VALUES ($1) RETURNING name');

/*
 * inSqlTransaction sends BEGIN with the work's first statements and, through rowsThenCommit,
 * COMMIT with its last one, without waiting for their answers (pipeline mode). These tests hold
 * it to what a transaction promises all the same.
 */
describe('inSqlTransaction on real PostgreSQL (pipeline mode)', () => {
  let database: TestDatabase;
  let pool: pg.Pool;

  const names = async () => (await pool.query<{ name: string }>('SELECT name FROM session_rows ORDER BY name')).rows.map((row) => row.name);

  before(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2, pipeline: true });
    await pool.query('CREATE TABLE session_rows (name text PRIMARY KEY)');
  });
  after(async () => {
    await pool.end();
    await database.drop();
  });

  it('statements sent with BEGIN are inside the transaction: a failure after them undoes both', async () => {
    await assert.rejects(
      inSqlTransaction(pool, async (tx) => {
        await Promise.all([tx.rows(INSERT_ROW, ['early-1']), tx.rows(INSERT_ROW, ['early-2'])]);
        throw new Error('the work failed');
      }),
      /the work failed/,
    );
    assert.deepEqual(await names(), []);
  });

  it('rowsThenCommit returns the statement’s rows once they are committed', async () => {
    const rows = await inSqlTransaction(pool, async (tx) => {
      await tx.rows(INSERT_ROW, ['first']);
      return tx.rowsThenCommit<{ name: string }>(INSERT_ROW, ['second']);
    });
    assert.deepEqual(rows, [{ name: 'second' }]);
    assert.deepEqual(await names(), ['first', 'second']);
  });

  it('a failing last statement turns the COMMIT sent behind it into a rollback, and the connection stays usable', async () => {
    await assert.rejects(
      inSqlTransaction(pool, async (tx) => {
        await tx.rows(INSERT_ROW, ['third']);
        return tx.rowsThenCommit(INSERT_ROW, ['first']);
      }),
      (error: { code?: string }) => error.code === '23505',
    );
    assert.deepEqual(await names(), ['first', 'second'], '"third" was rolled back with the failed statement');
    // Both connections of the pool are reused: neither was left inside a transaction.
    await Promise.all([inSqlTransaction(pool, (tx) => tx.rowsThenCommit(INSERT_ROW, ['fourth'])), inSqlTransaction(pool, (tx) => tx.rows(INSERT_ROW, ['fifth']))]);
    assert.deepEqual(await names(), ['fifth', 'first', 'fourth', 'second']);
  });

  it('nothing can be sent in a transaction after rowsThenCommit', async () => {
    await assert.rejects(
      inSqlTransaction(pool, async (tx) => {
        await tx.rowsThenCommit(INSERT_ROW, ['sixth']);
        await tx.rows(INSERT_ROW, ['seventh']);
      }),
      /a statement was sent after the transaction was committed/,
    );
    assert.deepEqual(await names(), ['fifth', 'first', 'fourth', 'second', 'sixth']);
  });

  it('refuses a pool that is not in pipeline mode', async () => {
    const sequential = new pg.Pool({ connectionString: database.url, max: 1 });
    try {
      await assert.rejects(
        inSqlTransaction(sequential, (tx) => tx.rows(INSERT_ROW, ['never'])),
        /needs a pool in pipeline mode/,
      );
      assert.equal(sequential.idleCount + sequential.waitingCount, 1, 'its connection went back to the pool');
    } finally {
      await sequential.end();
    }
    assert.deepEqual(await names(), ['fifth', 'first', 'fourth', 'second', 'sixth']);
  });
});
