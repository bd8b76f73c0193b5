import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditEventHash, canonicalJson } from '../../../src/domain/audit-chain.ts';
import type { AuditEntry } from '../../../src/domain/ports.ts';

describe('canonicalJson', () => {
  const cases: { name: string; value: unknown; expected: string }[] = [
    { name: 'top-level keys sorted', value: { b: 1, a: 2, c: 3 }, expected: '{"a":2,"b":1,"c":3}' },
    {
      name: 'nested keys sorted at every depth',
      value: { z: { y: { b: 1, a: 2 }, x: 0 }, a: [{ d: 1, c: 2 }] },
      expected: '{"a":[{"c":2,"d":1}],"z":{"x":0,"y":{"a":2,"b":1}}}',
    },
    { name: 'undefined members dropped', value: { a: undefined, b: { c: undefined, d: 1 } }, expected: '{"b":{"d":1}}' },
    { name: 'null kept', value: { a: null }, expected: '{"a":null}' },
    { name: 'array order kept', value: [3, 1, 2], expected: '[3,1,2]' },
    { name: 'strings escaped', value: { 'k"': 'v\n' }, expected: '{"k\\"":"v\\n"}' },
    { name: 'scalars', value: 'x', expected: '"x"' },
    { name: 'undefined alone', value: undefined, expected: 'null' },
  ];
  for (const { name, value, expected } of cases) {
    it(name, () => {
      assert.equal(canonicalJson(value), expected);
    });
  }

  it('gives the same text for objects built in different key orders', () => {
    assert.equal(canonicalJson({ a: 1, b: { c: 2, d: 3 } }), canonicalJson({ b: { d: 3, c: 2 }, a: 1 }));
  });
});

function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    occurredAt: new Date('2030-01-02T03:04:05.678Z'),
    actor: 'api-token:t1',
    actorRole: 'admin',
    sourceAddress: '10.0.0.1',
    requestId: 'req-1',
    action: 'certificate.issued',
    targetType: 'certificate',
    targetId: '4abc',
    details: { profile: 'server', sans: ['a.example'] },
    ...overrides,
  };
}

const PREVIOUS = 'a'.repeat(64);

describe('auditEventHash', () => {
  it('is a deterministic SHA-256 hex digest', () => {
    const hash = auditEventHash(PREVIOUS, entry());
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(auditEventHash(PREVIOUS, entry()), hash);
  });

  it('does not depend on the key order of details', () => {
    const one = entry({ details: { a: 1, b: { c: 2, d: 3 } } });
    const two = entry({ details: { b: { d: 3, c: 2 }, a: 1 } });
    assert.equal(auditEventHash(PREVIOUS, one), auditEventHash(PREVIOUS, two));
  });

  const changes: { field: string; change: Partial<AuditEntry> }[] = [
    { field: 'occurredAt', change: { occurredAt: new Date('2030-01-02T03:04:05.679Z') } },
    { field: 'actor', change: { actor: 'api-token:t2' } },
    { field: 'actorRole', change: { actorRole: 'issuer' } },
    { field: 'actorRole removed', change: { actorRole: undefined } },
    { field: 'sourceAddress', change: { sourceAddress: '10.0.0.2' } },
    { field: 'requestId', change: { requestId: 'req-2' } },
    { field: 'action', change: { action: 'certificate.revoked' } },
    { field: 'targetType', change: { targetType: 'issuer' } },
    { field: 'targetId', change: { targetId: '4abd' } },
    { field: 'targetId removed', change: { targetId: undefined } },
    { field: 'details value', change: { details: { profile: 'client', sans: ['a.example'] } } },
    { field: 'details nested array', change: { details: { profile: 'server', sans: ['b.example'] } } },
    { field: 'details extra key', change: { details: { profile: 'server', sans: ['a.example'], extra: true } } },
  ];
  const base = auditEventHash(PREVIOUS, entry());
  for (const { field, change } of changes) {
    it(`changes when ${field} changes`, () => {
      assert.notEqual(auditEventHash(PREVIOUS, entry(change)), base);
    });
  }

  it(
    'hashes details the same before and after a JSON round trip (as storage keeps them)',
    () => {
      const withDate = entry({ details: { revokedAt: new Date('2030-05-06T07:08:09.000Z') } });
      const stored = entry({ details: JSON.parse(JSON.stringify(withDate.details)) as Record<string, unknown> });
      assert.equal(auditEventHash(PREVIOUS, withDate), auditEventHash(PREVIOUS, stored));
      const otherDate = entry({ details: { revokedAt: new Date('2031-01-01T00:00:00.000Z') } });
      assert.notEqual(auditEventHash(PREVIOUS, withDate), auditEventHash(PREVIOUS, otherDate));
    },
  );

  it('changes when the previous hash changes, including to null', () => {
    assert.notEqual(auditEventHash('b'.repeat(64), entry()), base);
    assert.notEqual(auditEventHash(null, entry()), base);
  });
});

describe('a chain of audit events verified by recomputation', () => {
  interface StoredEvent {
    entry: AuditEntry;
    previousHash: string | null;
    hash: string;
  }

  function append(chain: StoredEvent[], next: AuditEntry): StoredEvent[] {
    const previousHash = chain.at(-1)?.hash ?? null;
    return [...chain, { entry: next, previousHash, hash: auditEventHash(previousHash, next) }];
  }

  /** Index of the first event whose stored hash or link does not match; -1 when intact. */
  function firstBroken(chain: StoredEvent[]): number {
    let previousHash: string | null = null;
    for (const [index, event] of chain.entries()) {
      if (event.previousHash !== previousHash || auditEventHash(previousHash, event.entry) !== event.hash) return index;
      previousHash = event.hash;
    }
    return -1;
  }

  const events = [
    entry({ action: 'ca.created', targetId: 'root' }),
    entry({ action: 'certificate.issued', targetId: '41' }),
    entry({ action: 'certificate.revoked', targetId: '41' }),
  ];
  const chain = events.reduce<StoredEvent[]>(append, []);

  function at(index: number): StoredEvent {
    const event = chain[index];
    if (!event) throw new Error(`no event ${index}`);
    return event;
  }

  it('links each event to the one before', () => {
    assert.equal(firstBroken(chain), -1);
    assert.equal(at(0).previousHash, null);
    assert.equal(at(1).previousHash, at(0).hash);
    assert.equal(at(2).previousHash, at(1).hash);
  });

  it('detects an edited middle event', () => {
    const edited = chain.map((event, index) =>
      index === 1 ? { ...event, entry: { ...event.entry, targetId: '42' } } : event,
    );
    assert.equal(firstBroken(edited), 1);
  });

  it('detects an edited middle event whose own hash was recomputed (the next link breaks)', () => {
    const middle = { ...at(1).entry, actor: 'mallory' };
    const edited = [at(0), { entry: middle, previousHash: at(0).hash, hash: auditEventHash(at(0).hash, middle) }, at(2)];
    assert.equal(firstBroken(edited), 2);
  });

  it('detects a deleted event', () => {
    assert.equal(firstBroken([at(0), at(2)]), 1);
    assert.equal(firstBroken([at(1), at(2)]), 0);
  });

  it('detects swapped events', () => {
    assert.equal(firstBroken([at(0), at(2), at(1)]), 1);
    // Even re-linking the swapped events cannot reuse the stored hashes.
    const relinked = [at(0), { ...at(2), previousHash: at(0).hash }, { ...at(1), previousHash: at(2).hash }];
    assert.equal(firstBroken(relinked), 1);
  });
});
