import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { CONSUME_TOKENS, INSERT_CERTIFICATES, INSERT_ONE_CERTIFICATE } from '../../../src/storage/issuance-group-writer.ts';
import type { SqlStatement } from '../../../src/storage/sql-session.ts';
import { openMigratedTestDatabase, type MigratedTestDatabase } from '../../support/migrated-database.ts';

/*
 * The group writer's statements find bootstrap tokens through the primary key and services
 * through their name whatever the tables' statistics say. The case that matters for tokens: a
 * deployment's tokens minted after the last ANALYZE, which saw only used tokens, so the planner
 * believes unused tokens are rare and a scan of the whole table cheap; for services, simply many
 * of them. Prepared statements run with a generic plan once PostgreSQL settles on one, so that
 * is the plan examined here.
 */

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodesOn(plan: PlanNode, relation: string): PlanNode[] {
  const own = plan['Relation Name'] === relation ? [plan] : [];
  return [...own, ...(plan.Plans ?? []).flatMap((child) => nodesOn(child, relation))];
}

/** The indexes a scan reads: its own, or a bitmap heap scan's bitmap index scans'. */
function indexesOf(scan: PlanNode): string[] {
  const own = scan['Index Name'] === undefined ? [] : [scan['Index Name']];
  return [...own, ...(scan.Plans ?? []).filter((child) => child['Node Type'].startsWith('Bitmap')).flatMap(indexesOf)];
}

describe('the group writer reads bootstrap tokens and services by key', () => {
  let database: MigratedTestDatabase;
  let client: pg.Client;
  let freshTokens: string[];

  before(async () => {
    database = await openMigratedTestDatabase();
    client = database.client;
    const service = await client.query<{ id: string }>(
      `INSERT INTO services (id, name, owner, enabled, created_at, updated_at) VALUES (gen_random_uuid(), 'plan-svc', 'test', true, now(), now()) RETURNING id`,
    );
    const serviceId = service.rows[0]?.id;
    await client.query(
      `INSERT INTO services (id, name, owner, enabled, created_at, updated_at)
       SELECT gen_random_uuid(), 'plan-svc-' || g, 'test', true, now(), now() FROM generate_series(1, 2000) AS g`,
    );
    await client.query('ANALYZE services');
    const mint = (count: number, used: boolean) =>
      client.query(
        `INSERT INTO bootstrap_tokens (id, service_id, token_hash, created_at, expires_at, used_at)
         SELECT gen_random_uuid(), $1, md5(random()::text) || md5(random()::text), now(), now() + interval '1 hour', CASE WHEN $3 THEN now() END
         FROM generate_series(1, $2::int)`,
        [serviceId, count, used],
      );
    await mint(2_000, true);
    await client.query('ANALYZE bootstrap_tokens');
    await mint(2_000, false);
    const fresh = await client.query<{ id: string }>('SELECT id::text AS id FROM bootstrap_tokens WHERE used_at IS NULL LIMIT 12');
    freshTokens = fresh.rows.map((row) => row.id);
    await client.query('SET plan_cache_mode = force_generic_plan');
  });
  after(() => database.close());

  /** `literals`: the values as SQL literals; by default each value's JSON. */
  async function genericPlan(statement: SqlStatement, parameterTypes: string[], values: unknown[], literals = values.map((value) => client.escapeLiteral(JSON.stringify(value)))): Promise<PlanNode> {
    const name = `plan_${randomUUID().replaceAll('-', '')}`;
    // No types: PostgreSQL infers them, as it does for the driver's unnamed parameter types.
    await client.query(`PREPARE ${name}${parameterTypes.length > 0 ? `(${parameterTypes.join(', ')})` : ''} AS ${statement.text}`);
    const result = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) EXECUTE ${name}(${literals.join(', ')})`);
    await client.query(`DEALLOCATE ${name}`);
    const plan = result.rows[0]?.['QUERY PLAN'][0].Plan;
    assert.ok(plan, 'EXPLAIN returned a plan');
    return plan;
  }

  function assertReadThrough(plan: PlanNode, relation: string, index: string): void {
    const scans = nodesOn(plan, relation).filter((node) => node['Node Type'] !== 'ModifyTable');
    assert.ok(scans.length > 0, `the plan reads ${relation}`);
    for (const scan of scans) {
      assert.notEqual(scan['Node Type'], 'Seq Scan', `no sequential scan of ${relation}`);
      assert.deepEqual(indexesOf(scan), [index], `${scan['Node Type']} of ${relation} through ${index}`);
    }
  }

  it('consuming a group of tokens', async () => {
    const input = freshTokens.map((id) => ({ token_id: id, now: new Date().toISOString(), spki: 'ab'.repeat(32) }));
    assertReadThrough(await genericPlan(CONSUME_TOKENS, ['jsonb'], [input]), 'bootstrap_tokens', 'bootstrap_tokens_pkey');
  });

  it('inserting a group of certificates: their services by name, their tokens by primary key', async () => {
    const input = freshTokens.map((id, index) => ({ id: randomUUID(), token_id: id, issuer_name: 'intermediate', service_name: `plan-svc-${index + 1}` }));
    const plan = await genericPlan(INSERT_CERTIFICATES, ['jsonb', 'jsonb'], [input, []]);
    assertReadThrough(plan, 'services', 'services_name_key');
    assertReadThrough(plan, 'bootstrap_tokens', 'bootstrap_tokens_pkey');
  });

  it('inserting one certificate: its service by name, its token by primary key', async () => {
    const now = new Date().toISOString();
    const certificate = [randomUUID(), freshTokens[0], 'intermediate', 'plan-svc-7', 'ab', 'peer', 'CN=x', 'x', '{x}', '{}', '{}', 'x', 'ecdsa-p256', 'ab', 'cd', now, now, 'AA==', 'system', now];
    const audit = [now, 'system', null, null, null, 'certificate.issued', 'certificate', 'ab', '{}', null, 'ef'];
    const literals = [...certificate, ...audit].map((value) => (value === null ? 'NULL' : client.escapeLiteral(String(value))));
    const plan = await genericPlan(INSERT_ONE_CERTIFICATE, [], [], literals);
    assertReadThrough(plan, 'services', 'services_name_key');
    assertReadThrough(plan, 'bootstrap_tokens', 'bootstrap_tokens_pkey');
  });
});
