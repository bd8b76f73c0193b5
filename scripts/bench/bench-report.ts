import { readFile, writeFile } from 'node:fs/promises';
import type { BenchPlan } from './bench-plan.ts';
import type { BootStormResult } from './boot-storm-scenario.ts';
import type { CrlBuildResult } from './crl-scenario.ts';
import type { ExpiryScanResult } from './expiry-scan-scenario.ts';
import type { IssuanceAuth, IssuanceCell } from './issuance-scenario.ts';
import type { OcspThroughputResult, RevocationResult } from './revocation-scenario.ts';
import type { Summary } from './stats.ts';

/** Everything one run measured; written as bench/results/<timestamp>.json. */
export interface BenchResults {
  startedAt: string;
  durationSeconds: number;
  mode: 'full' | 'quick';
  repetitions: number;
  /** The sizes this run used (issuance request counts are in each cell: they follow the warm-up rate). */
  plan: BenchPlan;
  machine: {
    cpu: string;
    cores: number;
    memoryGB: number;
    os: string;
    node: string;
    database: string;
    /** One-minute load average before and after the run: above ~1, other work competed for the CPU. */
    loadAverage: { atStart: number; atEnd: number };
    /** Share (0–1) of the machine's CPU that processes other than the benchmark's used during the run. */
    otherCpuShare: number;
    /**
     * `crypto.sign` rate measured again, with the server idle, after the issuance cells and at the
     * end (the start is `limits.signsPerSecond`): a VM's own speed can change during a run while no
     * other process shows up in `otherCpuShare`. Runs before this field existed lack it.
     */
    signRateProbes?: { afterIssuance: number; atEnd: number };
  };
  limits: { signsPerSecond: Summary; insertsPerSecond: Summary; insertConnections: number; insertErrors: number };
  issuance: IssuanceCell[];
  revocation: RevocationResult;
  ocsp: OcspThroughputResult;
  bootStorm: BootStormResult;
  crl: CrlBuildResult[];
  expiryScan: ExpiryScanResult[];
  server: {
    /** How the server was started (runs before this field existed: `node dist/src/bin/server.js`). */
    command?: string;
    idleRssMB: number;
    /** VmHWM once started (runs before this field existed lack it): the KDF unlocking the CA keys. */
    startupPeakRssMB?: number;
    /** VmHWM from the end of start-up to the end of the issuance runs (warm-ups and token minting included). */
    issuancePeakRssMB?: number;
    /** VmHWM from the end of start-up to the end of the run (the whole run, in older runs). */
    peakRssMB: number;
    logLevel: string;
  };
  /** Failed requests over the whole run; the run fails unless this is 0. */
  errors: number;
}

/** The start and end markers of the generated section of BENCHMARKS.md. */
export const LATEST_START = '<!-- bench:latest:start (written by `npm run bench`; edits here are overwritten) -->';
export const LATEST_END = '<!-- bench:latest:end -->';

/** `12,345.6`: grouped thousands, a fixed number of decimals; `n/a` for NaN or infinity. */
function number(value: number, digits: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** `1,234 (1,200–1,250)`: the median with the range of the repetitions (just the value for one). */
function spread(summary: Summary | undefined, digits = 0, unit = ''): string {
  if (!summary || summary.runs.length === 0) return 'not measured';
  const median = `${number(summary.median, digits)}${unit}`;
  if (summary.runs.length === 1) return median;
  return `${median} (${number(summary.min, digits)}–${number(summary.max, digits)})`;
}

function cell(results: BenchResults, auth: IssuanceAuth, concurrency: number): IssuanceCell | undefined {
  return results.issuance.find((c) => c.auth === auth && c.concurrency === concurrency);
}

type Verdict = 'met' | 'not met' | 'not measured';

/** A measurement with failed requests misses its target whatever its speed. */
function failed(measured: { errors: number } | undefined): boolean {
  return (measured?.errors ?? 0) > 0;
}

function verdict(value: number | undefined, ok: (value: number) => boolean): Verdict {
  return value === undefined || !Number.isFinite(value) ? 'not measured' : ok(value) ? 'met' : 'not met';
}

interface Row {
  metric: string;
  value: string;
  stepCa: string;
  cfssl: string;
  target: string;
  met: Verdict | '';
  limitedBy: string;
}

/**
 * Where one certificate's CPU went, measured: the server process, this load generator, and the
 * rest of the machine (PostgreSQL, mostly); and what that allows on this machine's cores.
 */
function issuanceLimit(c: IssuanceCell | undefined, cores: number): string {
  const server = c?.serverCpuMsPerCert.median ?? NaN;
  const client = c?.clientCpuMsPerCert?.median ?? NaN;
  const machine = c?.machineCpuMsPerCert?.median ?? NaN;
  return (
    `CPU per certificate: server ${number(server, 2)} ms (one event loop: ≤ ~${number(1000 / server, 0)}/s), ` +
    `load generator ${number(client, 2)} ms, PostgreSQL and the rest ${number(machine - server - client, 2)} ms; ` +
    `machine ${number(machine, 2)} ms in all, so ≤ ~${number((cores * 1000) / machine, 0)}/s on ${cores} cores`
  );
}

/**
 * Server memory. Against the target: the issuance runs (the scenario the target belongs to), from
 * the end of start-up; then every scenario, the boot storm's 500 simultaneous TLS connections
 * included. Runs from before these fields existed have one figure for the whole run.
 */
function memoryRows(results: BenchResults): Row[] {
  const { idleRssMB, startupPeakRssMB, issuancePeakRssMB, peakRssMB } = results.server;
  const startup =
    startupPeakRssMB === undefined
      ? ''
      : `. Start-up itself peaked at ${number(startupPeakRssMB, 0)} MB for a fraction of a second: scrypt deriving the key-encryption key of the CA keys needs 128 MiB (N = 2^17, r = 8), by design, once per start`;
  const againstTarget = (metric: string, valueMB: number): Row => ({
    metric,
    value: number(valueMB, 0),
    stepCa: '',
    cfssl: '',
    target: '< 200',
    met: verdict(valueMB, (v) => v < 200),
    limitedBy: `${number(idleRssMB, 0)} MB once started; the rest is the V8 heap under load (see "Memory" below)${startup}`,
  });
  if (issuancePeakRssMB === undefined) {
    return [againstTarget(startupPeakRssMB === undefined ? 'Server RSS, peak over the whole run (MB)' : 'Server RSS, peak while serving (MB)', peakRssMB)];
  }
  return [
    againstTarget('Server RSS, peak during the issuance runs, from the end of start-up (MB)', issuancePeakRssMB),
    {
      metric: 'Server RSS, peak while serving, every scenario (MB)',
      value: number(peakRssMB, 0),
      stepCa: '',
      cfssl: '',
      target: '',
      met: '',
      limitedBy: 'the boot storm: 500 TLS handshakes and requests at once, each connection with its own OpenSSL state and buffers',
    },
  ];
}

function issuanceRows(results: BenchResults, auth: IssuanceAuth, label: string): Row[] {
  const at = (c: number) => cell(results, auth, c);
  const lowest = Math.min(results.limits.signsPerSecond.median, results.limits.insertsPerSecond.median);
  const c32 = at(32);
  return [
    {
      metric: `Issuance, ${label}, concurrency 1 (certs/s)`,
      value: spread(at(1)?.certsPerSecond),
      stepCa: '~330',
      cfssl: '~700',
      target: '≥ 500',
      met: failed(at(1)) ? 'not met' : verdict(at(1)?.certsPerSecond.median, (v) => v >= 500),
      limitedBy: `one request at a time: ${number(at(1)?.p50Ms.median ?? NaN, 1)} ms p50, of which ${number(at(1)?.serverCpuMsPerCert.median ?? NaN, 1)} ms server CPU; the rest is the client, TLS, the round trips to PostgreSQL and the commit's WAL flush`,
    },
    {
      metric: `Issuance, ${label}, concurrency 8 (certs/s)`,
      value: spread(at(8)?.certsPerSecond),
      stepCa: '~840',
      cfssl: '~300',
      target: '',
      met: '',
      limitedBy: issuanceLimit(at(8), results.machine.cores),
    },
    {
      metric: `Issuance, ${label}, concurrency 32 (certs/s)`,
      value: spread(c32?.certsPerSecond),
      stepCa: '~1,400',
      cfssl: '~230',
      target: '≥ 3,000',
      met: failed(c32) ? 'not met' : verdict(c32?.certsPerSecond.median, (v) => v >= 3000),
      limitedBy: `${issuanceLimit(c32, results.machine.cores)}; ${number(((c32?.certsPerSecond.median ?? NaN) / lowest) * 100, 1)}% of the lower raw limit`,
    },
    {
      metric: `Issuance, ${label}, p99 latency at concurrency 32 (ms)`,
      value: spread(c32?.p99Ms, 1),
      stepCa: '45',
      cfssl: '1,100',
      target: '< 50',
      met: failed(c32) ? 'not met' : verdict(c32?.p99Ms.median, (v) => v < 50),
      limitedBy: `queueing: 32 requests share one server event loop, so each waits for about 31 others (32 / throughput = ${number(32000 / (c32?.certsPerSecond.median ?? NaN), 0)} ms)`,
    },
  ];
}

function findCrl(results: BenchResults, entries: number): CrlBuildResult | undefined {
  return results.crl.find((c) => c.entries === entries);
}

function summaryRows(results: BenchResults): Row[] {
  const signs = results.limits.signsPerSecond;
  const inserts = results.limits.insertsPerSecond;
  const lowest = Math.min(signs.median, inserts.median);
  const crl1m = findCrl(results, 1_000_000);
  const scan1m = results.expiryScan.find((s) => s.inventory >= 1_000_000);
  const storm = results.bootStorm;
  const reflected = Math.max(results.revocation.untilCrlMs.median, results.revocation.untilOcspMs.median);
  const rows: Row[] = [
    ...issuanceRows(results, 'bootstrap', 'one bootstrap token per request'),
    ...issuanceRows(results, 'admin', 'one admin API token'),
    ...memoryRows(results),
    {
      metric: 'Raw limit: crypto.sign ECDSA P-256, one core (signatures/s)',
      value: spread(signs),
      stepCa: '',
      cfssl: '',
      target: 'reference ~35,000',
      met: '',
      limitedBy: 'OpenSSL P-256 in Node; one of the two cores',
    },
    {
      metric: `Raw limit: PostgreSQL single-row INSERT commits, ${results.limits.insertConnections} connections (/s)`,
      value: spread(inserts),
      stepCa: '',
      cfssl: '',
      target: 'reference ~6,000',
      met: '',
      limitedBy: 'WAL flush per commit (fsync on), 2 cores shared with the client',
    },
    {
      metric: 'Issuance at concurrency 32 as a share of the lower raw limit (bootstrap / admin)',
      value: `${number(((cell(results, 'bootstrap', 32)?.certsPerSecond.median ?? NaN) / lowest) * 100, 1)}% / ${number(((cell(results, 'admin', 32)?.certsPerSecond.median ?? NaN) / lowest) * 100, 1)}%`,
      stepCa: '',
      cfssl: '',
      target: '',
      met: '',
      limitedBy: `lower raw limit: ${signs.median <= inserts.median ? 'crypto.sign' : 'PostgreSQL commits'} (${number(lowest, 0)}/s); neither the signature nor the commit is the cost (see "Where the time goes")`,
    },
    ...results.crl.map(
      (crl): Row => ({
        metric: `CRL build, ${number(crl.entries, 0)} entries (ms; DER size)`,
        value: `${spread(crl.buildMs)}; ${number(crl.derBytes / 1e6, 2)} MB`,
        stepCa: '',
        cfssl: '',
        target: crl.entries === 1_000_000 ? '< 10,000 ms' : '',
        met: crl.entries === 1_000_000 ? verdict(crl.buildMs.median, (v) => v < 10_000) : '',
        limitedBy: 'linear: one pass encoding entries straight to DER, two copies, one signature; served as the stored blob',
      }),
    ),
    ...(crl1m ? [] : [{ metric: 'CRL build, 1,000,000 entries (ms)', value: 'not measured (quick run)', stepCa: '', cfssl: '', target: '< 10,000 ms', met: 'not measured' as const, limitedBy: '' }]),
    {
      metric: 'Revocation: revoke API call (ms)',
      value: spread(results.revocation.revokeCallMs, 1),
      stepCa: '',
      cfssl: '',
      target: '',
      met: '',
      limitedBy: `one transaction, then the intermediate's CRL is rebuilt and stored before the answer (CRL of ${number(results.revocation.crlBytes, 0)} bytes here)`,
    },
    {
      metric: 'Revocation reflected: until the served CRL lists it / until OCSP says revoked (ms)',
      value: `${spread(results.revocation.untilCrlMs, 1)} / ${spread(results.revocation.untilOcspMs, 1)}`,
      stepCa: '',
      cfssl: '',
      target: '< 5,000',
      met: verdict(reflected, (v) => v < 5000),
      limitedBy: 'the revoke call itself: the CRL is republished inside it and OCSP reads the inventory on every request (no cache)',
    },
    {
      metric: `OCSP responses/s, concurrency ${results.ocsp.concurrency} (plain HTTP, keep-alive)`,
      value: spread(results.ocsp.responsesPerSecond),
      stepCa: '',
      cfssl: '',
      target: '',
      met: '',
      limitedBy: `server CPU, ${spread(results.ocsp.serverCpuMsPerResponse, 2)} ms per response on one event loop: request parse, one indexed lookup, a response built and signed each time (p99 ${spread(results.ocsp.p99Ms, 1)} ms)`,
    },
    ...results.expiryScan.map(
      (scan): Row => ({
        metric: `Expiry scan, ${number(scan.inventory, 0)} certificates stored, ${scan.due} due / none due (ms)`,
        value: `${spread(scan.scanMs)} / ${spread(scan.idleScanMs, 1)}`,
        stepCa: '',
        cfssl: '',
        target: scan.inventory >= 1_000_000 ? '< 100' : '',
        met: scan.inventory >= 1_000_000 ? verdict(scan.scanMs.median, (v) => v < 100) : '',
        limitedBy: `the due certificates, not the inventory: ${number(scan.scanMs.median / Math.max(1, scan.due), 2)} ms per due certificate (${scan.flagsPerScan / Math.max(1, scan.due)} alerts each and their notifications, written 500 certificates per statement); the flag schedule's index on next_flag_at makes the rest free`,
      }),
    ),
    ...(scan1m ? [] : [{ metric: 'Expiry scan, 1,000,000 certificates stored (ms)', value: 'not measured (quick run)', stepCa: '', cfssl: '', target: '< 100', met: 'not measured' as const, limitedBy: '' }]),
    {
      metric: `Boot storm: ${number(storm.services, 0)} services at once, until all hold certificates (s)`,
      value: spread(storm.allIssuedSeconds, 2),
      stepCa: '',
      cfssl: '',
      target: storm.services === 500 ? '< 5' : '< 5 (for 500)',
      met: storm.services !== 500 ? 'not measured' : failed(storm) ? 'not met' : verdict(storm.allIssuedSeconds.median, (v) => v < 5),
      limitedBy: `${failed(storm) ? `${number(storm.errors, 0)} of ${number(storm.services * results.repetitions, 0)} requests failed (${storm.errorSamples.join('; ')}); ` : ''}issuance throughput (each service also makes a new TLS connection); p50 ${spread(storm.p50Ms)} ms, p99 ${spread(storm.p99Ms)} ms, peak RSS ${spread(storm.peakRssMB)} MB`,
    },
  ];
  return rows;
}

function table(header: string[], rows: string[][]): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.map(escape).join(' | ')} |`)].join('\n');
}

/** Beyond this ratio between the fastest and the slowest probe, the report says the machine's speed changed. */
const SPEED_CHANGE_RATIO = 1.15;

/**
 * Whether the machine ran at one speed throughout: the `crypto.sign` rate at the start, after
 * the issuance cells and at the end. The pool's VMs have been seen to slow down by 40 % within
 * a run with nothing else running (session 15, BENCHMARKS.md); when that happens, cells measured
 * at different times cannot be compared with each other.
 */
function speedParagraph(results: BenchResults): string | undefined {
  const probes = results.machine.signRateProbes;
  if (!probes) return undefined;
  const start = results.limits.signsPerSecond.median;
  const rates = [start, probes.afterIssuance, probes.atEnd];
  const ratio = Math.max(...rates) / Math.min(...rates);
  const readings =
    `\`crypto.sign\` P-256 ran at ${number(start, 0)}/s at the start, ${number(probes.afterIssuance, 0)}/s after the issuance cells ` +
    `and ${number(probes.atEnd, 0)}/s at the end (in the benchmark's process, with the server idle)`;
  if (ratio <= SPEED_CHANGE_RATIO) return `Its speed held: ${readings}.`;
  return (
    `**The machine's speed changed during the run**: ${readings}, a factor of ${number(ratio, 2)}. ` +
    'Cells measured at different times are not comparable with each other, and server CPU per request moved with the machine.'
  );
}

/** The markdown report: the summary against references and targets, then the detail tables. */
export function renderMarkdown(results: BenchResults): string {
  const m = results.machine;
  const lines: string[] = [];
  lines.push(`### Run of ${results.startedAt} (${results.mode}${results.mode === 'quick' ? ': tiny sizes, checks the harness, not speed' : ''})`);
  lines.push('');
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${number(m.memoryGB, 0)} GB RAM, ${m.os}, Node ${m.node}. Database: ${m.database}. ` +
      `Server: a child process (\`${results.server.command ?? 'node dist/src/bin/server.js'}\`, built by \`npm run build\`, LOG_LEVEL=${results.server.logLevel}, scheduler off). ` +
      `${results.repetitions} repetition(s) per measurement: median (min–max). Run took ${number(results.durationSeconds, 0)} s; ${results.errors} failed requests.`,
  );
  lines.push('');
  if (m.otherCpuShare > 0.1) {
    lines.push(
      `**The machine was not quiet**: other processes used ${number(m.otherCpuShare * 100, 0)}% of its CPU during the run ` +
        `(one-minute load average ${number(m.loadAverage.atStart, 1)} before it, on ${m.cores} cores), so throughput and latency understate ` +
        'what it does alone; server CPU per request does not depend on that.',
    );
  } else {
    lines.push(
      `The machine was quiet: other processes used ${number(m.otherCpuShare * 100, 0)}% of its CPU during the run ` +
        `(one-minute load average ${number(m.loadAverage.atStart, 1)} before it, on ${m.cores} cores).`,
    );
  }
  const speed = speedParagraph(results);
  if (speed) lines.push('', speed);
  lines.push('');
  lines.push(
    table(
      ['Metric', 'Trustroot', 'step-ca 0.19', 'cfssl 1.2', 'Target / reference', 'Met', 'What limits it'],
      summaryRows(results).map((r) => [r.metric, r.value, r.stepCa, r.cfssl, r.target, r.met, r.limitedBy]),
    ),
  );
  lines.push('');
  lines.push('Issuance in detail (HTTPS keep-alive, P-256 CSRs, `peer` profile):');
  lines.push('');
  lines.push(
    table(
      ['Auth', 'Concurrency', 'Requests/run', 'Certs/s', 'p50 (ms)', 'p99 (ms)', 'Errors', 'Peak RSS (MB)', 'Server CPU/cert (ms)', 'Machine CPU/cert (ms)'],
      results.issuance.map((c) => [
        c.auth === 'bootstrap' ? 'bootstrap token each' : 'admin API token',
        String(c.concurrency),
        number(c.requestsPerRun, 0),
        spread(c.certsPerSecond),
        spread(c.p50Ms, 1),
        spread(c.p99Ms, 1),
        String(c.errors),
        spread(c.peakRssMB),
        spread(c.serverCpuMsPerCert, 2),
        spread(c.machineCpuMsPerCert, 2),
      ]),
    ),
  );
  lines.push('');
  lines.push(
    `Boot storm: ${results.bootStorm.services} services, each with its own token, CSR and new TLS connection: all issued in ${spread(results.bootStorm.allIssuedSeconds, 2)} s, ` +
      `p50 ${spread(results.bootStorm.p50Ms)} ms, p99 ${spread(results.bootStorm.p99Ms)} ms, ${results.bootStorm.errors} errors. ` +
      `OCSP: ${spread(results.ocsp.responsesPerSecond)} responses/s at concurrency ${results.ocsp.concurrency}, p50 ${spread(results.ocsp.p50Ms, 2)} ms, ${results.ocsp.errors} errors.`,
  );
  lines.push('');
  const failures = [
    ...results.issuance.map((c) => ({ what: `issuance (${c.auth}, concurrency ${c.concurrency})`, errors: c.errors, samples: c.errorSamples })),
    { what: 'OCSP', errors: results.ocsp.errors, samples: results.ocsp.errorSamples },
    { what: `boot storm (${results.bootStorm.services} services)`, errors: results.bootStorm.errors, samples: results.bootStorm.errorSamples },
    { what: 'raw PostgreSQL inserts', errors: results.limits.insertErrors, samples: [] },
  ].filter((f) => f.errors > 0);
  if (failures.length > 0) {
    lines.push('**Failed requests** (each must be 0):');
    lines.push('');
    for (const f of failures) lines.push(`- ${f.what}: ${number(f.errors, 0)} failed${f.samples.length > 0 ? ` — ${f.samples.join('; ')}` : ''}`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** Replaces the generated section of BENCHMARKS.md with `markdown`; fails if the markers are missing. */
export async function updateBenchmarksMd(file: string, markdown: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const start = text.indexOf(LATEST_START);
  const end = text.indexOf(LATEST_END);
  if (start < 0 || end < start) throw new Error(`${file} lacks the markers ${LATEST_START} … ${LATEST_END}`);
  await writeFile(file, `${text.slice(0, start + LATEST_START.length)}\n\n${markdown}\n${text.slice(end)}`);
}
