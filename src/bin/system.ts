import { randomBytes } from 'node:crypto';
import type { Clock, RandomSource } from '../domain/clock.ts';

/** The real clock. */
export const systemClock: Clock = { now: () => new Date() };

/** The operating system's CSPRNG. */
export const secureRandom: RandomSource = { bytes: (length) => new Uint8Array(randomBytes(length)) };
