import { DomainError } from '../errors.ts';

/**
 * When a certificate is flagged before it expires:
 * - absolute thresholds, in days before notAfter (`30d`, `14d`, `7d`, `1d`);
 * - relative thresholds, as the share of the lifetime elapsed without renewal (`75%`, `90%`).
 * An absolute threshold only applies to certificates living more than twice as long
 * (`7d` needs a lifetime over 14 days): a 24-hour certificate is flagged when its renewal is
 * late (75 %, 90 %), not the moment it is issued.
 */
export interface ExpiryThresholds {
  absoluteDays: number[];
  /** Fractions of the lifetime, 0 < f < 1. */
  relative: number[];
}

export const DEFAULT_EXPIRY_THRESHOLDS: ExpiryThresholds = { absoluteDays: [30, 14, 7, 1], relative: [0.75, 0.9] };

/** The flag raised when a certificate expired without being renewed. */
export const EXPIRED_THRESHOLD = 'expired';

export interface ThresholdMoment {
  /** Stable name, unique per certificate: `30d`, `75%`. */
  threshold: string;
  at: Date;
}

const DAY_MS = 86_400_000;

/** Parses `30d,14d,7d,1d,75%,90%`; throws a `bad_request` naming the bad item. */
export function parseExpiryThresholds(text: string): ExpiryThresholds {
  const thresholds: ExpiryThresholds = { absoluteDays: [], relative: [] };
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const days = /^(\d{1,4})d$/.exec(item);
    const percent = /^(\d{1,2})%$/.exec(item);
    if (days && Number(days[1]) > 0) thresholds.absoluteDays.push(Number(days[1]));
    else if (percent && Number(percent[1]) > 0) thresholds.relative.push(Number(percent[1]) / 100);
    else throw new DomainError('bad_request', `expiry threshold ${JSON.stringify(item)} is neither <days>d nor <percent>%`);
  }
  if (thresholds.absoluteDays.length + thresholds.relative.length === 0) {
    throw new DomainError('bad_request', 'at least one expiry threshold is needed');
  }
  return thresholds;
}

/** Every threshold moment of a certificate, earliest first. */
export function thresholdMoments(notBefore: Date, notAfter: Date, thresholds: ExpiryThresholds): ThresholdMoment[] {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const moments: ThresholdMoment[] = [];
  for (const days of thresholds.absoluteDays) {
    if (lifetime > 2 * days * DAY_MS) moments.push({ threshold: `${days}d`, at: new Date(notAfter.getTime() - days * DAY_MS) });
  }
  for (const fraction of thresholds.relative) {
    moments.push({ threshold: `${Math.round(fraction * 100)}%`, at: new Date(notBefore.getTime() + Math.round(lifetime * fraction)) });
  }
  return moments.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** The first moment strictly after `now`, or null when every threshold has passed. */
export function nextThresholdAt(moments: ThresholdMoment[], now: Date): Date | null {
  const next = moments.find((m) => m.at > now);
  return next ? next.at : null;
}

/** Whole days from `now` to `notAfter`, rounded down (negative once expired). */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}
