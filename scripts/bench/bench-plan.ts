/** How much work each scenario does; `--quick` only checks that the harness works. */
export interface BenchPlan {
  mode: 'full' | 'quick';
  /** Repetitions of every timed scenario; medians and min–max are over these. */
  repetitions: number;
  limits: { signSeconds: number; insertSeconds: number; insertConnections: number };
  issuance: {
    concurrencies: number[];
    /**
     * Requests per timed run: enough for `runSeconds` at the rate the warm-up reached, at least
     * `minRequests[c]` (several rounds of the concurrency) and at most `maxRequests[c]`.
     */
    runSeconds: number;
    minRequests: Record<number, number>;
    maxRequests: Record<number, number>;
    /**
     * Untimed requests before the first run of each mode (JIT, pools, caches, heap sizing). The
     * server and the load generator keep getting faster for the first few thousand issuances:
     * after 100, the three repetitions at concurrency 1 rose run after run (e.g. 274, 385, 405
     * certs/s), after 5,000 they are flat (BENCHMARKS.md, "Measured in session 17").
     */
    warmup: number;
    /** Distinct CSRs prepared; runs cycle through them. */
    csrPool: number;
  };
  revocation: { repetitions: number; ocspSeconds: number; ocspConcurrency: number };
  crl: { sizes: number[] };
  lifecycle: { inventorySizes: number[]; due: number };
  bootStorm: { services: number };
}

export const FULL_PLAN: BenchPlan = {
  mode: 'full',
  repetitions: 3,
  limits: { signSeconds: 2, insertSeconds: 3, insertConnections: 8 },
  issuance: {
    concurrencies: [1, 8, 32],
    runSeconds: 6,
    minRequests: { 1: 50, 8: 200, 32: 320 },
    maxRequests: { 1: 1500, 8: 3000, 32: 4000 },
    warmup: 5000,
    csrPool: 1000,
  },
  revocation: { repetitions: 5, ocspSeconds: 3, ocspConcurrency: 8 },
  crl: { sizes: [1_000, 10_000, 100_000, 1_000_000] },
  lifecycle: { inventorySizes: [100_000, 1_000_000], due: 300 },
  bootStorm: { services: 500 },
};

export const QUICK_PLAN: BenchPlan = {
  mode: 'quick',
  repetitions: 1,
  limits: { signSeconds: 0.3, insertSeconds: 0.5, insertConnections: 8 },
  issuance: { concurrencies: [1, 8, 32], runSeconds: 0, minRequests: { 1: 4, 8: 8, 32: 32 }, maxRequests: { 1: 4, 8: 8, 32: 32 }, warmup: 2, csrPool: 32 },
  revocation: { repetitions: 1, ocspSeconds: 0.3, ocspConcurrency: 8 },
  crl: { sizes: [1_000, 10_000] },
  lifecycle: { inventorySizes: [1_000, 5_000], due: 5 },
  bootStorm: { services: 16 },
};
