/** The time source of the domain and use cases; tests pass a clock they control. */
export interface Clock {
  now(): Date;
}

/** Cryptographically secure random bytes; injected so that tests can make them reproducible. */
export interface RandomSource {
  bytes(length: number): Uint8Array;
}
