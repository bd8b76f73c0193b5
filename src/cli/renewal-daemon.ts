import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from '../client/parse-duration.ts';
import { planRenewal, type RenewalPlan } from '../client/renewal-schedule.ts';
import type { CliIo } from './cli-io.ts';
import { ExitCode } from './exit-codes.ts';
import { reportError } from './report-error.ts';

export interface RenewalDaemonOptions {
  io: CliIo;
  /** Path of cert.pem: re-read before every decision, so that a renewal made by someone else is seen. */
  certificateFile: string;
  /** Renews once (and runs the hook); throws on failure. */
  renew(): Promise<{ serial: string; notAfter: string }>;
  /** Renew when this much validity is left (ms); default a third of the lifetime. */
  renewBeforeMs?: number;
  /** Stops the loop (SIGTERM); an in-flight renewal finishes first. */
  signal: AbortSignal;
}

/** Longest single sleep: after a host suspend the wall clock jumps, and the daemon notices within this. */
const MAX_SLEEP_MS = 60_000;

function log(io: CliIo, level: 'info' | 'WARNING' | 'CRITICAL', message: string): void {
  io.stderr.write(`${new Date().toISOString()} trustroot renew: ${level === 'info' ? '' : `${level} `}${message}\n`);
}

async function sleepUntil(at: Date, signal: AbortSignal): Promise<void> {
  for (;;) {
    const left = at.getTime() - Date.now();
    if (left <= 0 || signal.aborted) return;
    try {
      await sleep(Math.min(left, MAX_SLEEP_MS), undefined, { signal });
    } catch {
      return;
    }
  }
}

async function currentCertificate(file: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(file));
}

/**
 * The renewal sidecar: sleeps until the renewal point ({@link planRenewal}: about two thirds of
 * the lifetime, jittered), renews, and starts over with the new certificate. Failures are
 * retried with backoff well before expiry; each failure is logged, as CRITICAL once less than
 * half of the renewal window is left. Returns 0 when stopped by the signal, 1 when the
 * certificate expired without a renewal (an expired certificate cannot authenticate one, so a
 * new bootstrap is needed) or cert.pem cannot be read.
 */
export async function runRenewalDaemon(options: RenewalDaemonOptions): Promise<ExitCode> {
  const { io, signal } = options;
  const schedule = options.renewBeforeMs !== undefined ? { renewBeforeMs: options.renewBeforeMs } : {};
  let failures = 0;
  let serial: string | undefined;
  /** The retry planned (and logged) after a failure. */
  let retry: RenewalPlan | undefined;
  while (!signal.aborted) {
    let certificate: X509Certificate;
    try {
      certificate = await currentCertificate(options.certificateFile);
    } catch (error) {
      log(io, 'CRITICAL', `cannot read ${options.certificateFile} (${(error as NodeJS.ErrnoException).code ?? String(error)}); stopping`);
      return ExitCode.failure;
    }
    if (certificate.serialNumber !== serial) {
      // A new certificate (ours, or renewed by someone else meanwhile): its own schedule.
      serial = certificate.serialNumber;
      failures = 0;
      retry = undefined;
    }
    const validity = { notBefore: new Date(certificate.validFrom), notAfter: new Date(certificate.validTo) };
    const label = `certificate ${serial.toLowerCase()}`;
    const plan = retry ?? planRenewal({ ...validity, now: new Date(), failures }, Math.random, schedule);
    retry = undefined;
    if (validity.notAfter.getTime() <= Date.now()) {
      log(io, 'CRITICAL', `${label} expired at ${validity.notAfter.toISOString()} without a successful renewal; it can no longer authenticate one — bootstrap again`);
      return ExitCode.failure;
    }
    if (failures === 0) {
      log(io, 'info', `${label} is valid until ${validity.notAfter.toISOString()}; renewing at ${plan.at.toISOString()} (in ${formatDuration(Math.max(0, plan.at.getTime() - Date.now()))})`);
    }
    await sleepUntil(plan.at, signal);
    if (signal.aborted) break;
    try {
      const renewed = await options.renew();
      log(io, 'info', `renewed ${label} → ${renewed.serial}, valid until ${renewed.notAfter}`);
    } catch (error) {
      failures += 1;
      retry = planRenewal({ ...validity, now: new Date(), failures }, Math.random, schedule);
      reportError(io, 'renew', error);
      log(
        io,
        retry.urgency === 'critical' || retry.urgency === 'expired' ? 'CRITICAL' : 'WARNING',
        `renewal attempt ${failures} of ${label} failed; it expires in ${formatDuration(retry.remainingMs)} (${validity.notAfter.toISOString()}); next attempt in ${formatDuration(Math.max(0, retry.at.getTime() - Date.now()))}`,
      );
    }
  }
  log(io, 'info', 'stopped');
  return ExitCode.ok;
}
