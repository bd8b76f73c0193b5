import type { BenchPlan } from './bench-plan.ts';
import { runClosedLoop, type LoadResult } from './closed-loop.ts';
import { makeCsrs } from './csr-pool.ts';
import { createBenchClient, type BenchClient } from './http-client.ts';
import { machineBusySeconds } from './machine-load.ts';
import { observeServer, type ServerProcess } from './server-process.ts';
import { summarizeField, type Summary } from './stats.ts';
import { issueCertificate, mintBootstrapTokens, registerService } from './trustroot-api.ts';

export type IssuanceAuth = 'bootstrap' | 'admin';

/** One (authentication, concurrency) cell: each metric over the repetitions. */
export interface IssuanceCell {
  auth: IssuanceAuth;
  concurrency: number;
  requestsPerRun: number;
  certsPerSecond: Summary;
  p50Ms: Summary;
  p99Ms: Summary;
  /** Failed requests over every repetition; anything but 0 fails the benchmark. */
  errors: number;
  errorSamples: string[];
  /** Largest server RSS sampled during each run (MB). */
  peakRssMB: Summary;
  /** Server CPU time (every thread) per certificate issued (ms): the cost, whatever the machine's load. */
  serverCpuMsPerCert: Summary;
  /**
   * CPU time of the whole machine per certificate (ms): server, PostgreSQL, this load generator
   * and anything else running. Cores × 1000 / this is the most the machine could issue.
   */
  machineCpuMsPerCert: Summary;
  /** This load generator's CPU per certificate (ms): TLS and HTTP on the client side. */
  clientCpuMsPerCert: Summary;
}

export const ISSUANCE_SERVICE = 'bench-issuance';
const DOMAIN = 'bench.svc';

/**
 * Opens `concurrency` keep-alive connections (trusting only Trustroot's root) and completes a
 * TLS handshake on each before the timed part, so that runs measure steady-state issuance.
 */
async function warmClient(server: ServerProcess, concurrency: number): Promise<BenchClient> {
  const api = createBenchClient({ baseUrl: server.apiUrl, caPem: server.rootPem, maxSockets: concurrency });
  await Promise.all(Array.from({ length: concurrency }, () => api.request({ method: 'GET', path: '/healthz' })));
  return api;
}

/**
 * One timed run: `count` issuances at `concurrency` in a closed loop, each with its own freshly
 * minted bootstrap token (`bootstrap`) or the admin token naming the service (`admin`).
 */
export async function issuanceRun(
  server: ServerProcess,
  admin: BenchClient,
  auth: IssuanceAuth,
  concurrency: number,
  count: number,
  csrs: string[],
): Promise<LoadResult & { peakRssMB: number; cpuMsPerCert: number; machineCpuMsPerCert: number; clientCpuMsPerCert: number }> {
  // Untimed: one single-use token per request, minted through the API as an operator would.
  const tokens = auth === 'bootstrap' ? await mintBootstrapTokens(admin, server.adminToken, new Array<string>(count).fill(ISSUANCE_SERVICE)) : [];
  const api = await warmClient(server, concurrency);
  try {
    const machineBefore = await machineBusySeconds();
    const clientBefore = process.cpuUsage();
    const { result, peakRssMB, cpuSeconds } = await observeServer(server, () =>
      runClosedLoop(count, concurrency, async (index) => {
        const csr = csrs[index % csrs.length] ?? '';
        const outcome =
          auth === 'bootstrap'
            ? await issueCertificate(api, tokens[index] ?? '', csr)
            : await issueCertificate(api, server.adminToken, csr, ISSUANCE_SERVICE);
        return outcome.error;
      }),
    );
    const client = process.cpuUsage(clientBefore);
    const machineSeconds = (await machineBusySeconds()) - machineBefore;
    const issued = Math.max(1, result.requests - result.errors);
    return {
      ...result,
      peakRssMB,
      cpuMsPerCert: (cpuSeconds * 1000) / issued,
      machineCpuMsPerCert: (machineSeconds * 1000) / issued,
      clientCpuMsPerCert: (client.user + client.system) / 1000 / issued,
    };
  } finally {
    api.close();
  }
}

/**
 * Issuance over HTTPS with keep-alive, P-256 CSRs, at each concurrency: (i) every request with
 * its own single-use bootstrap token, (ii) every request with the one admin API token naming
 * the service. Tokens and CSRs are prepared outside the timed part.
 */
export async function benchIssuance(server: ServerProcess, admin: BenchClient, plan: BenchPlan, log: (line: string) => void): Promise<IssuanceCell[]> {
  await registerService(admin, server.adminToken, ISSUANCE_SERVICE, [`*.${DOMAIN}`]);
  const started = performance.now();
  const csrs = await makeCsrs(Array.from({ length: plan.issuance.csrPool }, (_, i) => `w${i}.${DOMAIN}`));
  log(`  prepared ${csrs.length} P-256 CSRs in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const cells: IssuanceCell[] = [];
  for (const auth of ['bootstrap', 'admin'] as const) {
    const warm = await issuanceRun(server, admin, auth, 8, plan.issuance.warmup, csrs);
    if (warm.errors > 0) throw new Error(`issuance warm-up (${auth}) failed: ${warm.errorSamples.join('; ')}`);
    log(`  warm-up ${auth}: ${warm.requests} certificates at concurrency 8, ${warm.perSecond.toFixed(0)} certs/s`);
    for (const concurrency of plan.issuance.concurrencies) {
      const { runSeconds, minRequests, maxRequests } = plan.issuance;
      const count = Math.min(maxRequests[concurrency] ?? 1000, Math.max(minRequests[concurrency] ?? 10, Math.round(warm.perSecond * runSeconds)));
      const runs: Awaited<ReturnType<typeof issuanceRun>>[] = [];
      for (let repetition = 0; repetition < plan.repetitions; repetition += 1) {
        const run = await issuanceRun(server, admin, auth, concurrency, count, csrs);
        runs.push(run);
        log(
          `  issuance ${auth.padEnd(9)} c=${String(concurrency).padStart(2)} #${repetition + 1}: ${run.perSecond.toFixed(0)} certs/s, ` +
            `p50 ${run.p50Ms.toFixed(1)} ms, p99 ${run.p99Ms.toFixed(1)} ms, errors ${run.errors}, RSS ${run.peakRssMB.toFixed(0)} MB, ` +
            `CPU per cert: server ${run.cpuMsPerCert.toFixed(1)} ms, client ${run.clientCpuMsPerCert.toFixed(1)} ms, machine ${run.machineCpuMsPerCert.toFixed(1)} ms`,
        );
      }
      cells.push({
        auth,
        concurrency,
        requestsPerRun: count,
        certsPerSecond: summarizeField(runs, (r) => r.perSecond),
        p50Ms: summarizeField(runs, (r) => r.p50Ms),
        p99Ms: summarizeField(runs, (r) => r.p99Ms),
        errors: runs.reduce((sum, r) => sum + r.errors, 0),
        errorSamples: [...new Set(runs.flatMap((r) => r.errorSamples))].slice(0, 5),
        peakRssMB: summarizeField(runs, (r) => r.peakRssMB),
        serverCpuMsPerCert: summarizeField(runs, (r) => r.cpuMsPerCert),
        machineCpuMsPerCert: summarizeField(runs, (r) => r.machineCpuMsPerCert),
        clientCpuMsPerCert: summarizeField(runs, (r) => r.clientCpuMsPerCert),
      });
    }
  }
  return cells;
}
