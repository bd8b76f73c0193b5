import { hash } from 'node:crypto';
import type { AuditEntry } from './ports.ts';

/** JSON with object keys sorted at every depth, so that equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  // Dates and other objects with toJSON hash as what JSON storage keeps of them.
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return canonicalJson((value as { toJSON: () => unknown }).toJSON());
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * Hash of one audit event, chained to the previous event's hash: editing, deleting or
 * reordering any stored event changes every hash after it.
 */
export function auditEventHash(previousHash: string | null, entry: AuditEntry): string {
  const body = canonicalJson({
    previousHash,
    occurredAt: entry.occurredAt.toISOString(),
    actor: entry.actor,
    actorRole: entry.actorRole ?? null,
    sourceAddress: entry.sourceAddress ?? null,
    requestId: entry.requestId ?? null,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId ?? null,
    details: entry.details,
  });
  return hash('sha256', body, 'hex');
}
