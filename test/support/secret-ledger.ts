import { appendFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A ledger of every secret the test suite handles, and of every log line Trustroot wrote,
 * so that `npm test` can check at the end that no secret ever reached a log (see
 * scripts/run-tests.ts). Active only when TRUSTROOT_TEST_LEDGER_DIR is set.
 */
const directory = process.env.TRUSTROOT_TEST_LEDGER_DIR;

const SECRET_FIELDS = new Set(['token', 'webhookSecret', 'privateKey', 'pkcs12', 'pkcs12Password']);

/** Records a secret (ignored when too short to be one, to avoid false alarms). */
export function recordSecret(secret: string | undefined): void {
  if (!directory || !secret || secret.length < 12) return;
  appendFileSync(path.join(directory, `secrets-${process.pid}.txt`), `${JSON.stringify(secret)}\n`);
}

/** Records the secret members of a JSON request or response body. */
export function recordSecretsIn(body: unknown, depth = 0): void {
  if (!directory || depth > 6 || body === null || typeof body !== 'object') return;
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value === 'string' && SECRET_FIELDS.has(key)) recordSecret(value);
    else recordSecretsIn(value, depth + 1);
  }
}

/** Records log lines written by a Trustroot instance under test. */
export function recordLogLines(lines: string[]): void {
  if (!directory || lines.length === 0) return;
  appendFileSync(path.join(directory, `logs-${process.pid}.jsonl`), `${lines.join('\n')}\n`);
}
