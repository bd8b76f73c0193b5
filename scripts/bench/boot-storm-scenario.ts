import { createHash, X509Certificate } from 'node:crypto';
import { TrustrootClient } from '../../src/client/trustroot-client.ts';
import type { BenchPlan } from './bench-plan.ts';
import { runClosedLoop, type LoadResult } from './closed-loop.ts';
import { makeCsrs } from './csr-pool.ts';
import type { BenchClient } from './http-client.ts';
import { observeServer, type ServerProcess } from './server-process.ts';
import { summarizeField, type Summary } from './stats.ts';
import { mintBootstrapTokens, registerService } from './trustroot-api.ts';

export interface BootStormResult {
  services: number;
  /** From firing every request until the last service holds its certificate (s). */
  allIssuedSeconds: Summary;
  p50Ms: Summary;
  p99Ms: Summary;
  errors: number;
  errorSamples: string[];
  peakRssMB: Summary;
  /** Server CPU time per certificate (ms), TLS handshakes included. */
  serverCpuMsPerCert: Summary;
}

/**
 * `services` services boot at once through the SDK (`TrustrootClient`, the code path of
 * `trustroot bootstrap`): each pins the root by fingerprint, then presents its own single-use
 * bootstrap token and its own P-256 CSR on its own new TLS connection, all fired together.
 * Services, keys, CSRs and tokens are prepared beforehand (a real fleet makes its keys on 500
 * hosts, not on the CA's); tokens are minted afresh for every repetition.
 */
export async function benchBootStorm(server: ServerProcess, admin: BenchClient, plan: BenchPlan, log: (line: string) => void): Promise<BootStormResult> {
  const count = plan.bootStorm.services;
  const names = Array.from({ length: count }, (_, i) => `boot-${String(i).padStart(4, '0')}`);
  await runClosedLoop(count, 16, async (index) => {
    const name = names[index] ?? '';
    await registerService(admin, server.adminToken, name, [`${name}.svc`]);
    return undefined;
  }).then((result) => {
    if (result.errors > 0) throw new Error(result.errorSamples.join('; '));
  });
  const csrs = await makeCsrs(names.map((name) => `${name}.svc`));
  const rootFingerprint = createHash('sha256').update(new X509Certificate(server.rootPem).raw).digest('hex');
  const runs: (LoadResult & { peakRssMB: number; cpuMsPerCert: number })[] = [];
  for (let repetition = 0; repetition < plan.repetitions; repetition += 1) {
    const tokens = await mintBootstrapTokens(admin, server.adminToken, names);
    const { result, peakRssMB, cpuSeconds } = await observeServer(server, () =>
      runClosedLoop(count, count, async (index) => {
        // What `trustroot bootstrap` does once its key and CSR exist: the SDK fetches the root
        // over plain HTTP, checks its fingerprint, then asks for the certificate on a new TLS
        // connection (the SDK keeps no connection: a booting process connects once).
        try {
          const client = await TrustrootClient.connect({ caUrl: server.apiUrl, publicUrl: server.publicUrl, rootFingerprint, token: tokens[index] ?? '' });
          await client.issueCertificate({ csr: csrs[index] ?? '', profile: 'peer' });
          return undefined;
        } catch (error) {
          return error instanceof Error ? error.message : String(error);
        }
      }),
    );
    runs.push({ ...result, peakRssMB, cpuMsPerCert: (cpuSeconds * 1000) / Math.max(1, result.requests - result.errors) });
    log(
      `  boot storm of ${count} #${repetition + 1}: all issued in ${result.seconds.toFixed(2)} s, p50 ${result.p50Ms.toFixed(0)} ms, ` +
        `p99 ${result.p99Ms.toFixed(0)} ms, errors ${result.errors}, RSS ${peakRssMB.toFixed(0)} MB`,
    );
  }
  return {
    services: count,
    allIssuedSeconds: summarizeField(runs, (r) => r.seconds),
    p50Ms: summarizeField(runs, (r) => r.p50Ms),
    p99Ms: summarizeField(runs, (r) => r.p99Ms),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    errorSamples: [...new Set(runs.flatMap((r) => r.errorSamples))].slice(0, 5),
    peakRssMB: summarizeField(runs, (r) => r.peakRssMB),
    serverCpuMsPerCert: summarizeField(runs, (r) => r.cpuMsPerCert),
  };
}
