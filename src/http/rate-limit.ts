import type { NextFunction, Request, Response } from 'express';
import { requestContextOf } from './authentication.ts';
import { sendProblem } from './problem.ts';
import { onFirstResponseEvent } from './response-events.ts';

/** `capacity` requests at once, refilled at `perSecond`. */
export interface RateLimit {
  capacity: number;
  perSecond: number;
}

/** Keys kept at most; beyond it the stalest buckets are dropped (a flood of sources cannot exhaust memory). */
const MAX_KEYS = 50_000;

/** Refilled buckets dropped per `take`, at most: enough to keep up with the keys it adds, and O(1). */
const DROPPED_PER_TAKE = 2;

/**
 * Token buckets per key, in memory (per replica). `take` is O(1); time comes from `now` so that
 * tests drive it. A bucket that has refilled to its capacity is the same as no bucket, so such
 * buckets are dropped as keys are taken: the map holds the keys that used tokens within the
 * last refill, not every key ever seen. Every bootstrap token is a caller of its own, so
 * without this an issuance left one entry behind until MAX_KEYS pushed it out (50,000 entries,
 * megabytes of the old generation, at a few hundred issuances a second).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number,
  ) {}

  /** Keys held; for tests. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.capacity, at: now };
    bucket.tokens = this.tokensAt(bucket, now);
    bucket.at = now;
    // Re-insert to keep Map order ≈ recency, so the oldest entries are dropped first.
    this.buckets.delete(key);
    this.dropRefilled(now);
    this.buckets.set(key, bucket);
    if (this.buckets.size > MAX_KEYS) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.limit.perSecond);
  }

  /** Seconds until `key` has a token, without taking one (0 when it has). */
  peek(key: string): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    const tokens = this.tokensAt(bucket, this.now());
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.limit.perSecond);
  }

  private tokensAt(bucket: { tokens: number; at: number }, now: number): number {
    return Math.min(this.limit.capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
  }

  /** Drops the least recently used buckets while they have refilled, a few at a time. */
  private dropRefilled(now: number): void {
    for (let dropped = 0; dropped < DROPPED_PER_TAKE; dropped += 1) {
      const oldest = this.buckets.entries().next().value;
      if (oldest === undefined || this.tokensAt(oldest[1], now) < this.limit.capacity) return;
      this.buckets.delete(oldest[0]);
    }
  }
}

export interface RateLimitSettings {
  /** Issuance, renewal and bootstrap-token minting, per source address. */
  costlyPerSource: RateLimit;
  /** The same, per authenticated caller (token or certificate). */
  costlyPerCaller: RateLimit;
  /** Failed authentications (401) per source address; when spent, that source gets 429 on every API request. */
  authFailuresPerSource: RateLimit;
}

const COSTLY = new Set(['POST /v1/certificates', 'POST /v1/certificates/renew']);

function isCostly(req: Request): boolean {
  return COSTLY.has(`${req.method} ${req.path}`) || (req.method === 'POST' && /^\/v1\/services\/[^/]+\/bootstrap-tokens$/.test(req.path));
}

function tooMany(res: Response, retryAfter: number, what: string): void {
  res.setHeader('Retry-After', String(Math.max(1, retryAfter)));
  sendProblem(res, 'too_many_requests', `${what}; retry after ${Math.max(1, retryAfter)} s`);
}

/**
 * Rate limits of the API listener. `beforeAuthentication` stops a source that keeps failing to
 * authenticate (a bootstrap-token brute force cannot get far) and counts its 401s;
 * `afterAuthentication` bounds the costly operations per source and per caller.
 */
export function rateLimits(settings: RateLimitSettings, now: () => number = Date.now) {
  const failures = new TokenBuckets(settings.authFailuresPerSource, now);
  const perSource = new TokenBuckets(settings.costlyPerSource, now);
  const perCaller = new TokenBuckets(settings.costlyPerCaller, now);
  const source = (req: Request) => req.socket.remoteAddress ?? 'unknown';
  return {
    beforeAuthentication: (req: Request, res: Response, next: NextFunction): void => {
      const wait = failures.peek(source(req));
      if (wait > 0) {
        tooMany(res, wait, 'too many failed authentications from this address');
        return;
      }
      res.on('finish', () => {
        if (res.statusCode === 401) failures.take(source(req));
      });
      next();
    },
    /**
     * Whether `req`'s source still has a costly request in its budget, without spending it: work
     * started ahead of `afterAuthentication` (`issuanceAhead`) asks first, so that a source the
     * limit is about to refuse cannot make the server do that work.
     */
    sourceMayStartCostlyWork: (req: Request): boolean => perSource.peek(source(req)) === 0,
    afterAuthentication: (req: Request, res: Response, next: NextFunction): void => {
      if (!isCostly(req)) {
        next();
        return;
      }
      const sourceWait = perSource.take(source(req));
      if (sourceWait > 0) {
        tooMany(res, sourceWait, 'too many requests from this address');
        return;
      }
      const principal = requestContextOf(res).principal;
      const caller =
        principal?.kind === 'api-token' || principal?.kind === 'bootstrap-token'
          ? `token:${principal.tokenId}`
          : principal?.kind === 'service-certificate'
            ? `mtls:${principal.serialHex}`
            : undefined;
      const callerWait = caller ? perCaller.take(caller) : 0;
      if (callerWait > 0) {
        tooMany(res, callerWait, 'too many requests from this caller');
        return;
      }
      next();
    },
  };
}

/**
 * A cap on requests in progress: beyond it, requests are answered 503 at once instead of
 * queueing until everything times out.
 */
export function concurrencyCap(maxInFlight: number) {
  let inFlight = 0;
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (inFlight >= maxInFlight) {
      res.setHeader('Retry-After', '1');
      sendProblem(res, 'unavailable', 'the server is at its concurrent request limit; retry shortly');
      return;
    }
    inFlight += 1;
    onFirstResponseEvent(res, ['finish', 'close'], () => {
      inFlight -= 1;
    });
    next();
  };
}
