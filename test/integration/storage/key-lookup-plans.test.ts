import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { SERVICES_BY_NAME } from '../../../src/storage/service.repository.ts';
import type { KeyLookup } from '../../../src/storage/sql-session.ts';
import { API_TOKENS_BY_HASH, BOOTSTRAP_TOKENS_BY_HASH } from '../../../src/storage/token.repository.ts';
import { openMigratedTestDatabase, type MigratedTestDatabase } from '../../support/migrated-database.ts';

/*
 * Every authenticated request reads its token, and many read a service, through these lookups.
 * A lone lookup must not be planned again on every execution: on a small or freshly filled table
 * (no ANALYZE yet, as in a new deployment) PostgreSQL plans `= ANY($1)` anew each time, so the
 * lone key has a statement of its own. This holds it to "PostgreSQL settled on a generic plan",
 * and to the same rows as the statement for several keys.
 */
describe('lookups by key: a lone key is planned once', () => {
  let database: MigratedTestDatabase;
  let client: pg.Client;

  before(async () => {
    database = await openMigratedTestDatabase();
    client = database.client;
    const service = await client.query<{ id: string }>(
      `INSERT INTO services (id, name, owner, enabled, created_at, updated_at)
       SELECT gen_random_uuid(), 'lookup-svc-' || g, 'test', true, now(), now() FROM generate_series(1, 3) AS g RETURNING id`,
    );
    await client.query(
      `INSERT INTO bootstrap_tokens (id, service_id, token_hash, created_at, expires_at)
       SELECT gen_random_uuid(), $1, 'bootstrap-' || g, now(), now() + interval '1 hour' FROM generate_series(1, 500) AS g`,
      [service.rows[0]?.id],
    );
    await client.query(
      `INSERT INTO api_tokens (id, name, role, token_hash, created_at)
       SELECT gen_random_uuid(), 'lookup-' || g, 'admin', 'api-' || g, now() FROM generate_series(1, 2) AS g`,
    );
  });
  after(() => database.close());

  const cases: { name: string; lookup: KeyLookup; keys: [string, string] }[] = [
    { name: 'API tokens by hash', lookup: API_TOKENS_BY_HASH, keys: ['api-1', 'api-2'] },
    { name: 'bootstrap tokens (and their service) by hash', lookup: BOOTSTRAP_TOKENS_BY_HASH, keys: ['bootstrap-7', 'bootstrap-8'] },
    { name: 'services by name', lookup: SERVICES_BY_NAME, keys: ['lookup-svc-2', 'lookup-svc-3'] },
  ];

  for (const { name, lookup, keys } of cases) {
    it(`${name}: the one-key statement runs on a generic plan after PostgreSQL's trial executions`, async () => {
      // PostgreSQL plans the first five executions for their values, then compares.
      for (let execution = 0; execution < 8; execution++) {
        await client.query({ name: lookup.one.name, text: lookup.one.text, values: [keys[execution % 2]] });
      }
      const counts = await client.query<{ generic_plans: string; custom_plans: string }>(
        'SELECT generic_plans::text, custom_plans::text FROM pg_prepared_statements WHERE name = $1',
        [lookup.one.name],
      );
      const [row] = counts.rows;
      assert.ok(row, 'the statement was prepared');
      assert.equal(Number(row.custom_plans), 5, 'planned for its values only during the trial executions');
      assert.equal(Number(row.generic_plans), 3, 'then planned once and for all');
    });

    it(`${name}: one key reads the same row through either statement`, async () => {
      for (const key of keys) {
        const one = await client.query({ text: lookup.one.text, values: [key] });
        const many = await client.query({ text: lookup.many.text, values: [[key]] });
        assert.equal(one.rows.length, 1, `${key} is found`);
        assert.deepEqual(one.rows, many.rows);
      }
      const both = await client.query({ text: lookup.many.text, values: [keys] });
      assert.equal(both.rows.length, 2, 'several keys in one statement');
    });
  }
});
