import type { BenchPlan } from './bench-plan.ts';
import { runForDuration, type LoadResult } from './closed-loop.ts';
import { makeCsrs } from './csr-pool.ts';
import { createBenchClient, type BenchClient } from './http-client.ts';
import { ISSUANCE_SERVICE } from './issuance-scenario.ts';
import { crlListsSerial, ocspRequestFor, ocspStatus } from './revocation-probes.ts';
import { observeServer, type ServerProcess } from './server-process.ts';
import { summarize, summarizeField, type Summary } from './stats.ts';
import { issueCertificate, revokeCertificate } from './trustroot-api.ts';

export interface RevocationResult {
  /** The revoke call's own latency (ms): it republishes the issuer's CRL before answering. */
  revokeCallMs: Summary;
  /** From sending the revoke call until GET /crl/intermediate.crl lists the serial (ms). */
  untilCrlMs: Summary;
  /** From sending the revoke call until the OCSP responder answers `revoked` (ms). */
  untilOcspMs: Summary;
  /** Size of the CRL served after the last revocation (bytes). */
  crlBytes: number;
}

export interface OcspThroughputResult {
  concurrency: number;
  responsesPerSecond: Summary;
  p50Ms: Summary;
  p99Ms: Summary;
  errors: number;
  errorSamples: string[];
  peakRssMB: Summary;
  /** Server CPU time per response (ms). */
  serverCpuMsPerResponse: Summary;
}

const POLL_TIMEOUT_MS = 30_000;
const POLL_PAUSE_MS = 2;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true; the time from `since` (performance.now()) in ms. */
async function pollUntil(since: number, what: string, check: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (await check()) return performance.now() - since;
    if (performance.now() - since > POLL_TIMEOUT_MS) throw new Error(`${what} did not happen within ${POLL_TIMEOUT_MS / 1000} s`);
    await sleep(POLL_PAUSE_MS);
  }
}

async function fetchCrl(publicApi: BenchClient): Promise<Buffer> {
  const response = await publicApi.request({ method: 'GET', path: '/crl/intermediate.crl' });
  if (response.status !== 200) throw new Error(`GET /crl/intermediate.crl answered ${response.status}`);
  return response.body;
}

async function askOcsp(publicApi: BenchClient, request: Buffer): Promise<ReturnType<typeof ocspStatus>> {
  const response = await publicApi.request({ method: 'POST', path: '/ocsp/intermediate', headers: { 'content-type': 'application/ocsp-request' }, body: request });
  if (response.status !== 200) return `error: HTTP ${response.status}`;
  return ocspStatus(response.body);
}

async function intermediateDer(publicApi: BenchClient): Promise<Uint8Array> {
  const response = await publicApi.request({ method: 'GET', path: '/ca/intermediate.crt' });
  if (response.status !== 200) throw new Error(`GET /ca/intermediate.crt answered ${response.status}`);
  return response.body;
}

/**
 * Revocation as a relying party sees it: a certificate is issued (untimed), then revoked through
 * the API while two pollers fetch the CRL and ask the OCSP responder until each reflects it.
 */
export async function benchRevocationLatency(server: ServerProcess, admin: BenchClient, plan: BenchPlan, log: (line: string) => void): Promise<RevocationResult> {
  const publicApi = createBenchClient({ baseUrl: server.publicUrl });
  try {
    const issuer = await intermediateDer(publicApi);
    const csrs = await makeCsrs(Array.from({ length: plan.revocation.repetitions }, (_, i) => `revoked-${i}.bench.svc`));
    const runs: { call: number; crl: number; ocsp: number }[] = [];
    for (const [index, csr] of csrs.entries()) {
      const issued = await issueCertificate(admin, server.adminToken, csr, ISSUANCE_SERVICE);
      if (!issued.issued) throw new Error(`issuing the certificate to revoke: ${issued.error ?? 'no body'}`);
      const serial = issued.issued.serial;
      const ocspRequest = ocspRequestFor(issuer, serial);
      if (crlListsSerial(await fetchCrl(publicApi), serial)) throw new Error('the CRL lists a certificate before its revocation');
      const before = await askOcsp(publicApi, ocspRequest);
      if (before !== 'good') throw new Error(`OCSP says ${before} for a fresh certificate, expected good`);
      const started = performance.now();
      const call = revokeCertificate(admin, server.adminToken, serial).then(() => performance.now() - started);
      const [callMs, crlMs, ocspMs] = await Promise.all([
        call,
        pollUntil(started, 'the CRL listing the revoked serial', async () => crlListsSerial(await fetchCrl(publicApi), serial)),
        pollUntil(started, 'OCSP answering revoked', async () => (await askOcsp(publicApi, ocspRequest)) === 'revoked'),
      ]);
      runs.push({ call: callMs, crl: crlMs, ocsp: ocspMs });
      log(`  revocation #${index + 1}: call ${callMs.toFixed(1)} ms, in CRL after ${crlMs.toFixed(1)} ms, OCSP revoked after ${ocspMs.toFixed(1)} ms`);
    }
    return {
      revokeCallMs: summarizeField(runs, (r) => r.call),
      untilCrlMs: summarizeField(runs, (r) => r.crl),
      untilOcspMs: summarizeField(runs, (r) => r.ocsp),
      crlBytes: (await fetchCrl(publicApi)).length,
    };
  } finally {
    publicApi.close();
  }
}

/** OCSP responses per second: one pre-built request for a good certificate, POSTed over keep-alive HTTP. */
export async function benchOcspThroughput(server: ServerProcess, admin: BenchClient, plan: BenchPlan, log: (line: string) => void): Promise<OcspThroughputResult> {
  const { ocspConcurrency: concurrency, ocspSeconds } = plan.revocation;
  const setup = createBenchClient({ baseUrl: server.publicUrl });
  const [csr] = await makeCsrs(['ocsp-target.bench.svc']);
  const issued = await issueCertificate(admin, server.adminToken, csr ?? '', ISSUANCE_SERVICE);
  if (!issued.issued) throw new Error(`issuing the OCSP target: ${issued.error ?? 'no body'}`);
  const request = ocspRequestFor(await intermediateDer(setup), issued.issued.serial);
  const first = await askOcsp(setup, request);
  setup.close();
  if (first !== 'good') throw new Error(`OCSP says ${first} for the target, expected good`);
  const runs: (LoadResult & { peakRssMB: number; cpuMsPerResponse: number })[] = [];
  for (let repetition = 0; repetition < plan.repetitions; repetition += 1) {
    const publicApi = createBenchClient({ baseUrl: server.publicUrl, maxSockets: concurrency });
    try {
      await Promise.all(Array.from({ length: concurrency }, () => publicApi.request({ method: 'GET', path: '/healthz' })));
      const { result, peakRssMB, cpuSeconds } = await observeServer(server, () =>
        runForDuration(ocspSeconds, concurrency, async () => {
          const response = await publicApi.request({ method: 'POST', path: '/ocsp/intermediate', headers: { 'content-type': 'application/ocsp-request' }, body: request });
          if (response.status !== 200 || response.contentType !== 'application/ocsp-response') return `HTTP ${response.status} ${response.contentType ?? ''}`;
          return undefined;
        }),
      );
      const cpuMsPerResponse = (cpuSeconds * 1000) / Math.max(1, result.requests - result.errors);
      runs.push({ ...result, peakRssMB, cpuMsPerResponse });
      log(
        `  OCSP c=${concurrency} #${repetition + 1}: ${result.perSecond.toFixed(0)} responses/s, p50 ${result.p50Ms.toFixed(2)} ms, ` +
          `p99 ${result.p99Ms.toFixed(2)} ms, errors ${result.errors}, server CPU ${cpuMsPerResponse.toFixed(2)} ms/response`,
      );
    } finally {
      publicApi.close();
    }
  }
  return {
    concurrency,
    responsesPerSecond: summarizeField(runs, (r) => r.perSecond),
    p50Ms: summarizeField(runs, (r) => r.p50Ms),
    p99Ms: summarizeField(runs, (r) => r.p99Ms),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    errorSamples: [...new Set(runs.flatMap((r) => r.errorSamples))].slice(0, 5),
    peakRssMB: summarize(runs.map((r) => r.peakRssMB)),
    serverCpuMsPerResponse: summarize(runs.map((r) => r.cpuMsPerResponse)),
  };
}
