import type { Clock, RandomSource } from '../domain/clock.ts';
import { retryDelayMs } from '../domain/lifecycle/retry-backoff.ts';
import { SIGNATURE_HEADER, signWebhook } from '../domain/lifecycle/webhook-signature.ts';
import type { NotificationOutbox, PendingNotification, SecretSealer, WebhookSender } from '../domain/ports.ts';

/** How webhook deliveries are paced and bounded. All values are positive integers. */
export interface DeliverySettings {
  /** Attempts (including the first) before a notification is dead-lettered; default 8. */
  maxAttempts: number;
  /** Bound on one HTTP POST, connection to response headers, in milliseconds; default 5000. */
  timeoutMs: number;
  /** Deliveries in flight at once within one pass; default 8. */
  concurrency: number;
  /** Most notifications claimed per pass (further capped so a pass fits its lease, see below); default 100. */
  batchSize: number;
  /** How long claimed notifications stay hidden from other claimers, in milliseconds; default 60 000. Must be ≥ 2 × timeoutMs. */
  leaseMs: number;
}

const DEFAULT_SETTINGS: DeliverySettings = { maxAttempts: 8, timeoutMs: 5000, concurrency: 8, batchSize: 100, leaseMs: 60_000 };

/** Context the per-service webhook secret is sealed under, so a sealed secret cannot be replayed for another service. */
function sealingContext(serviceName: string): string {
  return `webhook:${serviceName}`;
}

type Outcome = 'delivered' | 'failed' | 'deadLettered';

/**
 * Delivers lifecycle notifications from the transactional outbox to each service's webhook,
 * at least once.
 *
 * Each pass claims due notifications under a lease, POSTs each one signed with the service's
 * secret, and records the outcome: delivered on 2xx; otherwise a failed attempt, retried after
 * a full-jitter exponential backoff, and dead-lettered after `maxAttempts`. A crash between the
 * POST and the record leaves the row pending; once its lease lapses it is claimed and sent
 * again with the same `Idempotency-Key`, which receivers use to drop the duplicate.
 *
 * Deliveries run in parallel with at most `concurrency` in flight, and every POST is bounded by
 * `timeoutMs`, so a slow or hung receiver holds one slot for at most its own timeout.
 *
 * Lease invariant: a pass must finish before its lease lapses, or another replica would claim
 * the same rows and deliver them twice in parallel. A pass is at most ⌈claimed / concurrency⌉
 * waves of `timeoutMs`, so a pass claims at most `concurrency × ⌊leaseMs / (2 × timeoutMs)⌋`
 * notifications (48 with the defaults), leaving half the lease for storage round trips; and it
 * never starts a POST that could outlive the lease (that notification is left for a later pass).
 */
export class NotificationDeliveryService {
  private readonly settings: DeliverySettings;
  private readonly claimLimit: number;

  /**
   * @param settings overrides of the defaults; undefined members keep the default.
   * @throws RangeError when a setting is not a positive integer or `leaseMs < 2 × timeoutMs`.
   */
  constructor(
    private readonly outbox: NotificationOutbox,
    private readonly sender: WebhookSender,
    private readonly sealer: SecretSealer,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    settings: Partial<DeliverySettings> = {},
  ) {
    const merged: DeliverySettings = { ...DEFAULT_SETTINGS };
    for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof DeliverySettings)[]) {
      const value = settings[key];
      if (value !== undefined) merged[key] = value;
      if (!Number.isSafeInteger(merged[key]) || merged[key] <= 0) {
        throw new RangeError(`delivery setting ${key} must be a positive integer, got ${String(merged[key])}`);
      }
    }
    if (merged.leaseMs < 2 * merged.timeoutMs) {
      throw new RangeError(`delivery leaseMs (${merged.leaseMs}) must be at least twice timeoutMs (${merged.timeoutMs})`);
    }
    this.settings = merged;
    const wavesPerLease = Math.floor(merged.leaseMs / (2 * merged.timeoutMs));
    this.claimLimit = Math.min(merged.batchSize, merged.concurrency * wavesPerLease);
  }

  /**
   * One pass: claims due notifications and delivers them in parallel (bounded by
   * `concurrency`), recording each outcome.
   *
   * A notification left unrecorded (a POST not started because the lease was about to lapse,
   * or a storage error while recording) is not counted and stays pending: it is claimed again
   * once its lease lapses.
   *
   * @returns how many were delivered, failed (to be retried) and dead-lettered in this pass.
   * @throws AggregateError after every delivery of the pass has finished, when storage failed
   *   to record one or more outcomes.
   */
  async deliverDue(): Promise<{ delivered: number; failed: number; deadLettered: number }> {
    const claimedAt = this.clock.now();
    const leaseUntil = new Date(claimedAt.getTime() + this.settings.leaseMs);
    const due = await this.outbox.claimDue(claimedAt, this.claimLimit, leaseUntil);

    const counts = { delivered: 0, failed: 0, deadLettered: 0 };
    const recordingErrors: unknown[] = [];
    await runBounded(due, this.settings.concurrency, async (notification) => {
      try {
        const outcome = await this.deliverOne(notification, leaseUntil);
        if (outcome !== undefined) counts[outcome] += 1;
      } catch (error) {
        // Keep going: the other deliveries are independent, and this one stays pending.
        recordingErrors.push(error);
      }
    });
    if (recordingErrors.length > 0) {
      throw new AggregateError(recordingErrors, `${recordingErrors.length} webhook delivery outcome(s) could not be recorded; they will be retried after the lease`);
    }
    return counts;
  }

  /** Sends one notification and records the outcome; undefined when it was left for a later pass. */
  private async deliverOne(notification: PendingNotification, leaseUntil: Date): Promise<Outcome | undefined> {
    const attempts = notification.attempts + 1;
    const { webhookUrl, webhookSecretSealed } = notification;
    if (webhookUrl === undefined || webhookUrl === '' || webhookSecretSealed === undefined || webhookSecretSealed.length === 0) {
      // Retrying cannot help until someone configures the service; dead-letter it visibly now.
      await this.outbox.markFailed(notification.id, 'service has no webhook URL', attempts, undefined);
      return 'deadLettered';
    }
    if (this.clock.now().getTime() + this.settings.timeoutMs >= leaseUntil.getTime()) {
      // Starting now could outlive the lease and race another replica's delivery of the same row.
      return undefined;
    }

    const error = await this.attempt(notification, webhookUrl, webhookSecretSealed);
    const recordedAt = this.clock.now();
    if (error === undefined) {
      await this.outbox.markDelivered(notification.id, recordedAt);
      return 'delivered';
    }
    if (attempts >= this.settings.maxAttempts) {
      await this.outbox.markFailed(notification.id, error, attempts, undefined);
      return 'deadLettered';
    }
    const nextAttemptAt = new Date(recordedAt.getTime() + retryDelayMs(attempts, this.random));
    await this.outbox.markFailed(notification.id, error, attempts, nextAttemptAt);
    return 'failed';
  }

  /** One signed POST. @returns undefined on 2xx, otherwise a short error text safe to store and show. */
  private async attempt(notification: PendingNotification, url: string, sealedSecret: Uint8Array): Promise<string | undefined> {
    let secret: string;
    try {
      secret = this.sealer.open(sealedSecret, sealingContext(notification.recipientService));
    } catch {
      // Never deliver unsigned; a key-encryption key being rotated may make this succeed later.
      return 'webhook secret cannot be opened';
    }
    let body: string;
    try {
      body = JSON.stringify(notification.payload);
    } catch {
      return 'payload is not serialisable';
    }
    // Signed at send time (not claim time) so a receiver's replay window starts when the request leaves.
    const timestampSeconds = Math.floor(this.clock.now().getTime() / 1000);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Idempotency-Key': notification.idempotencyKey,
      'Trustroot-Event-Type': notification.eventType,
      [SIGNATURE_HEADER]: signWebhook(secret, timestampSeconds, body),
      'User-Agent': 'Trustroot-Webhooks/1',
    };
    try {
      const { status } = await this.sender.post(url, headers, body, this.settings.timeoutMs);
      if (status >= 200 && status <= 299) return undefined;
      return status >= 300 && status <= 399 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
    } catch (error) {
      return describeFailure(error, this.settings.timeoutMs);
    }
  }
}

/** An error code such as `ECONNRESET` or `ERR_WEBHOOK_ADDRESS_FORBIDDEN`, when the value carries one. */
function errorCodeOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('code' in value)) return undefined;
  const { code } = value;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : undefined;
}

function errorNameOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('name' in value)) return undefined;
  return typeof value.name === 'string' ? value.name : undefined;
}

/**
 * A short description of a failed POST built only from the error's name and code: messages
 * are never copied, because they may quote URLs, headers or response text.
 */
function describeFailure(error: unknown, timeoutMs: number): string {
  const cause = typeof error === 'object' && error !== null && 'cause' in error ? error.cause : undefined;
  const names = [errorNameOf(error), errorNameOf(cause)];
  if (names.includes('TimeoutError') || names.includes('AbortError')) return `timeout after ${timeoutMs} ms`;
  const code = errorCodeOf(error) ?? errorCodeOf(cause);
  return code === undefined ? 'network error' : `network error ${code}`;
}

/** Runs `work` over `items` with at most `limit` in flight; `work` must not reject. */
async function runBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  // One shared iterator: each worker takes the next item as soon as it is free, so a slow item
  // delays only the worker holding it.
  const queue = items.values();
  const worker = async (): Promise<void> => {
    for (const item of queue) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
