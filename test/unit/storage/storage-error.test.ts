import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../../../src/domain/errors.ts';
import { guardStorage, isDatabaseUnreachable, isUniqueViolation } from '../../../src/storage/storage-error.ts';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('isDatabaseUnreachable', () => {
  const unreachable: { name: string; error: unknown }[] = [
    { name: 'an Error with code ECONNREFUSED', error: withCode('connect failed', 'ECONNREFUSED') },
    { name: 'a plain object with code ETIMEDOUT', error: { code: 'ETIMEDOUT' } },
    { name: 'a nested cause "Connection terminated unexpectedly"', error: new Error('query failed', { cause: new Error('Connection terminated unexpectedly') }) },
    {
      name: 'a cause three levels deep',
      error: new Error('a', { cause: new Error('b', { cause: new Error('c', { cause: withCode('x', 'ECONNRESET') }) }) }),
    },
    { name: 'Prisma P1001', error: withCode("Can't reach database server at db:5432", 'P1001') },
    { name: 'Prisma driver adapter kind', error: Object.assign(new Error('adapter error'), { kind: 'DatabaseNotReachable' }) },
    { name: 'a server shutting down', error: new Error('terminating connection due to administrator command') },
    { name: 'a pool timeout', error: new Error('timeout exceeded when trying to connect') },
  ];
  for (const { name, error } of unreachable) {
    it(`true for ${name}`, () => {
      assert.equal(isDatabaseUnreachable(error), true);
    });
  }

  const reachable: { name: string; error: unknown }[] = [
    { name: 'a unique-constraint violation', error: { code: 'P2002' } },
    { name: 'a unique-constraint Error', error: withCode('Unique constraint failed on the fields: (`serial`)', 'P2002') },
    { name: 'a plain Error', error: new Error('boom') },
    { name: 'an Error with an unrelated cause', error: new Error('outer', { cause: new Error('inner') }) },
    { name: 'a string mentioning ECONNREFUSED (not an object)', error: 'ECONNREFUSED' },
    { name: 'null', error: null },
    { name: 'undefined', error: undefined },
    { name: 'a numeric code', error: { code: 1001 } },
    {
      name: 'a marker deeper than six causes',
      error: [1, 2, 3, 4, 5, 6].reduce<Error>((cause, n) => new Error(`level ${n}`, { cause }), withCode('x', 'ECONNREFUSED')),
    },
  ];
  for (const { name, error } of reachable) {
    it(`false for ${name}`, () => {
      assert.equal(isDatabaseUnreachable(error), false);
    });
  }

  it('stops on a cause cycle', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.assign(a, { cause: b });
    assert.equal(isDatabaseUnreachable(a), false);
  });
});

describe('isUniqueViolation', () => {
  it('is true only for Prisma P2002', () => {
    assert.equal(isUniqueViolation({ code: 'P2002' }), true);
    assert.equal(isUniqueViolation(withCode('dup', 'P2002')), true);
    assert.equal(isUniqueViolation({ code: 'P2003' }), false);
    assert.equal(isUniqueViolation(new Error('P2002')), false);
    assert.equal(isUniqueViolation(null), false);
  });
});

describe('guardStorage', () => {
  it('returns the operation’s result', async () => {
    assert.deepEqual(await guardStorage(async () => ({ rows: 3 })), { rows: 3 });
  });

  it('turns an unreachable database into DomainError unavailable', async () => {
    const lost = new Error('query failed', { cause: withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED') });
    await assert.rejects(guardStorage(async () => Promise.reject(lost)), (error: unknown) => {
      assert.ok(error instanceof DomainError);
      assert.equal(error.kind, 'unavailable');
      assert.equal(error.detail.includes('127.0.0.1'), false, 'the detail shows no internals');
      return true;
    });
  });

  const passedThrough: { name: string; error: unknown }[] = [
    { name: 'a unique-constraint violation', error: withCode('Unique constraint failed', 'P2002') },
    { name: 'a plain Error', error: new Error('boom') },
    { name: 'a DomainError', error: new DomainError('conflict', 'already revoked') },
    { name: 'a DomainError whose text looks like a lost connection', error: new DomainError('not_found', 'ECONNREFUSED') },
    { name: 'a thrown string', error: 'not an error' },
  ];
  for (const { name, error } of passedThrough) {
    it(`rethrows ${name} unchanged (same object)`, async () => {
      await assert.rejects(
        guardStorage(async () => {
          throw error;
        }),
        (thrown: unknown) => thrown === error,
      );
    });
  }
});
