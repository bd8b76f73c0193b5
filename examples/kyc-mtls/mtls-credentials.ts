import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { certificateNames } from '../../src/client/certificate-names.ts';
import { generateKeyAndCsr } from '../../src/client/generate-key-and-csr.ts';
import { planRenewal } from '../../src/client/renewal-schedule.ts';
import { normalizeFingerprint, sha256Fingerprint } from '../../src/client/sha256-fingerprint.ts';
import { TrustrootClient } from '../../src/client/trustroot-client.ts';
// The CLI's writer: every file staged in full, then renamed into place (what `trustroot renew` does).
import { writeFilesAtomically } from '../../src/cli/write-files-atomically.ts';
import type { VerifiedCrl } from '../../src/client/verify-crl.ts';

/*
 * The one piece both KYC services share: the service's Trustroot identity, kept current while
 * the service runs.
 *
 * - At start it loads the credential directory (the layout `trustroot bootstrap` writes:
 *   key.pem, cert.pem, chain.pem, ca.pem) or, when there is no usable certificate yet, spends a
 *   single-use bootstrap token on one. The key is made here and never leaves the host.
 * - It renews over mTLS before expiry (or when asked), and reloads when something else — a
 *   `trustroot renew --dir` sidecar, an operator — replaces the files (fs.watch, or `reload()`).
 * - It fetches the production CRLs, checks their signatures (the SDK does) and refreshes them on
 *   an interval (or when asked), because a revocation means nothing until relying parties load it.
 *
 * Whatever changes, listeners registered with `onChange` are told, and rebuild their TLS
 * contexts from `serverContextOptions()` / `clientContextOptions()`.
 */

/** One structured log line: an event name and its fields. */
export type Log = (event: string, fields?: Record<string, unknown>) => void;

/** Where the CA is and how to trust it. */
export interface TrustrootSettings {
  /** HTTPS API, e.g. `https://trustroot.internal:8443`. */
  caUrl: string;
  /** SHA-256 of the root certificate, as the CA logs it; nothing is sent before it matches. */
  rootFingerprint: string;
  /** Plain-HTTP listener (root, CRLs); default the CA host on port 8080. */
  publicUrl?: string;
  /** Single-use bootstrap token; needed only while the directory holds no usable certificate. */
  bootstrapToken?: string;
}

export interface MtlsCredentialsOptions {
  trustroot: TrustrootSettings;
  /** Credential directory (created 0700 if missing). */
  dir: string;
  /** Names of the certificate asked for at bootstrap; the first is also the CN. */
  names: string[];
  /** How often the CRLs are fetched again, ms (default 60 000: Trustroot's CRLs are cacheable for at most 60 s). */
  crlRefreshMs?: number;
  /** Renew on Trustroot's schedule (two thirds of the lifetime); default true. */
  autoRenew?: boolean;
  /** Reload when cert.pem or key.pem is replaced in `dir`; default true. */
  watchFiles?: boolean;
  log: Log;
}

/** What changed: our own certificate (and maybe key), or the revocation lists. */
export interface CredentialChange {
  reason: 'certificate' | 'crl';
  serial: string;
}

interface Held {
  keyPem: string;
  certificatePem: string;
  chainPem: string;
  rootPem: string;
  certificate: X509Certificate;
  serial: string;
}

interface Crls {
  intermediate: VerifiedCrl;
  root: VerifiedCrl;
  /** Leaf serials revoked by the issuing CA (the intermediate). */
  revoked: ReadonlySet<string>;
}

const FILES = { key: 'key.pem', certificate: 'cert.pem', chain: 'chain.pem', root: 'ca.pem' } as const;
const DEFAULT_CRL_REFRESH_MS = 60_000;
/** Longest a Node timer can wait; later renewals are re-planned when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Lower-case hex without leading zeros: how Trustroot and its CRLs write serials. */
export function canonicalSerial(hex: string): string {
  return hex.replaceAll(':', '').toLowerCase().replace(/^0+(?=.)/, '');
}

function crlNumber(crl: VerifiedCrl): bigint {
  return BigInt(crl.crlNumber ?? -1);
}

/**
 * A service's Trustroot credentials with hot reload, renewal and CRL refresh. Create with
 * {@link MtlsCredentials.open}; {@link MtlsCredentials.close} stops its timers and watcher.
 */
export class MtlsCredentials {
  private readonly listeners = new Set<(change: CredentialChange) => void>();
  private watcher: FSWatcher | undefined;
  private crlTimer: NodeJS.Timeout | undefined;
  private renewalTimer: NodeJS.Timeout | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  /** Serializes reload and renewal, which both replace `held`. */
  private queue: Promise<unknown> = Promise.resolve();
  private crls: Crls | undefined;
  /**
   * Session-ticket keys of the server context. A resumed TLS session skips certificate
   * verification, and `setSecureContext` keeps the old ticket keys unless given new ones, so
   * they are replaced whenever a revocation appears: no session from before it can resume.
   */
  private ticketKeys = randomBytes(48);
  private renewalFailures = 0;
  private closed = false;

  private constructor(
    private readonly options: MtlsCredentialsOptions,
    private held: Held,
    private client: TrustrootClient,
  ) {}

  /**
   * Loads (or bootstraps) the credentials and fetches the CRLs once: a service must not serve
   * before it can check revocation. Then starts the CRL refresh, renewal and file watching.
   */
  static async open(options: MtlsCredentialsOptions): Promise<MtlsCredentials> {
    const { dir, trustroot, log } = options;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pinned = normalizeFingerprint(trustroot.rootFingerprint);
    let held: Held;
    try {
      held = await readHeld(dir, pinned);
      log('credentials-loaded', { dir, serial: held.serial, notAfter: held.certificate.validTo });
    } catch (error) {
      if (trustroot.bootstrapToken === undefined) {
        throw new Error(`${dir} holds no usable certificate (${String(error)}) and no bootstrap token was given`, { cause: error });
      }
      held = await bootstrap(options, pinned);
      log('credentials-bootstrapped', { dir, serial: held.serial, notAfter: held.certificate.validTo });
    }
    const client = await TrustrootClient.connect({
      caUrl: trustroot.caUrl,
      rootFingerprint: pinned,
      rootPem: held.rootPem,
      ...(trustroot.publicUrl !== undefined ? { publicUrl: trustroot.publicUrl } : {}),
      clientCertificate: { keyPem: held.keyPem, certificatePem: held.certificatePem, chainPem: held.chainPem },
    });
    const credentials = new MtlsCredentials(options, held, client);
    await credentials.refreshCrl();
    credentials.startBackgroundWork();
    return credentials;
  }

  /** Serial of the certificate in use (canonical hex). */
  get serial(): string {
    return this.held.serial;
  }

  get certificate(): X509Certificate {
    return this.held.certificate;
  }

  /** Whether the issuing CA's latest verified CRL lists this serial (any hex form). */
  isRevoked(serial: string): boolean {
    return this.crls?.revoked.has(canonicalSerial(serial)) ?? false;
  }

  /** The CRL number of the intermediate's CRL in use. */
  get crlNumber(): string | undefined {
    return this.crls?.intermediate.crlNumber;
  }

  /** Called after every change, synchronously; returns the unsubscribe function. */
  onChange(listener: (change: CredentialChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * TLS material of a server: our certificate with its chain, the Trustroot root as the only
   * trust anchor, and both CRLs. With `crl` set, Node turns on OpenSSL's CRL checking for the
   * whole chain (X509_V_FLAG_CRL_CHECK_ALL), so the root's CRL (covering the intermediate) is
   * needed as well as the intermediate's (covering the leaves).
   */
  serverContextOptions(): SecureContextOptions {
    return { ...this.clientContextOptions(), ticketKeys: this.ticketKeys };
  }

  /** TLS material of a client: the same certificate, trust anchor and CRLs. */
  clientContextOptions(): SecureContextOptions {
    if (!this.crls) throw new Error('internal: TLS options before the first CRL');
    return {
      key: this.held.keyPem,
      cert: this.held.certificatePem + this.held.chainPem,
      ca: this.held.rootPem,
      crl: [this.crls.intermediate.pem, this.crls.root.pem],
      minVersion: 'TLSv1.2',
    };
  }

  /**
   * Fetches both CRLs (signatures verified against the pinned chain by the SDK) and applies
   * them when newer. An older CRL number is ignored: CRLs travel over plain HTTP, and a replayed
   * old one — validly signed — would un-revoke certificates.
   */
  async refreshCrl(): Promise<void> {
    const [intermediate, root] = await Promise.all([this.client.fetchCrl('intermediate'), this.client.fetchCrl('root')]);
    const current = this.crls;
    if (current && (crlNumber(intermediate) < crlNumber(current.intermediate) || crlNumber(root) < crlNumber(current.root))) {
      this.options.log('crl-rollback-ignored', { crlNumber: intermediate.crlNumber, current: current.intermediate.crlNumber });
      return;
    }
    if (current && crlNumber(intermediate) === crlNumber(current.intermediate) && crlNumber(root) === crlNumber(current.root)) return;
    const revoked = new Set(intermediate.revokedSerials);
    const newlyRevoked = [...revoked].filter((serial) => !current?.revoked.has(serial));
    const rootChanged = current !== undefined && root.revokedSerials.some((serial) => !current.root.revokedSerials.includes(serial));
    if (newlyRevoked.length > 0 || rootChanged) this.ticketKeys = randomBytes(48);
    this.crls = { intermediate, root, revoked };
    this.options.log('crl-loaded', { crlNumber: intermediate.crlNumber, revoked: revoked.size, newlyRevoked, nextUpdate: intermediate.nextUpdate?.toISOString() });
    // Peers will refuse us from now on; renewal is refused too. Only a new bootstrap helps.
    if (revoked.has(this.held.serial)) this.options.log('own-certificate-revoked', { serial: this.held.serial });
    this.emit({ reason: 'crl', serial: this.held.serial });
  }

  /** Re-reads the directory (after `trustroot renew --dir`, SIGHUP…); true when the certificate changed. */
  reload(): Promise<boolean> {
    return this.exclusive(async () => {
      const pinned = normalizeFingerprint(this.options.trustroot.rootFingerprint);
      let next: Held;
      try {
        next = await readHeld(this.options.dir, pinned);
      } catch (error) {
        // E.g. a re-keying writer between key.pem and cert.pem: keep serving with what we have;
        // the rename of cert.pem (written last) triggers another reload.
        this.options.log('reload-skipped', { reason: error instanceof Error ? error.message : String(error) });
        return false;
      }
      if (next.serial === this.held.serial && next.keyPem === this.held.keyPem) return false;
      this.apply(next);
      return true;
    });
  }

  /**
   * Renews now over mTLS with the current certificate (`rekey`: with a new key for the same
   * names), writes the files atomically and switches to them. Returns the new serial.
   */
  renew(options: { rekey?: boolean } = {}): Promise<string> {
    return this.exclusive(async () => {
      let replacement: { keyPem: string; csrPem: string } | undefined;
      if (options.rekey) {
        const names = certificateNames(this.held.certificatePem);
        const generated = await generateKeyAndCsr('p256', { ...(names.commonName ? { commonName: names.commonName } : {}), sans: names.sans });
        replacement = { keyPem: generated.privateKeyPem, csrPem: generated.csrPem };
      }
      const issued = await this.client.renewCertificate(replacement ? { csr: replacement.csrPem } : {});
      const keyPem = replacement?.keyPem ?? this.held.keyPem;
      const next = checkedHeld(keyPem, issued.certificate, issued.chain, this.held.rootPem);
      await writeFilesAtomically(this.options.dir, [
        { name: FILES.chain, content: next.chainPem, mode: 0o644 },
        ...(replacement ? [{ name: FILES.key, content: next.keyPem, mode: 0o600 }] : []),
        // Last: a watcher reloading on cert.pem finds the rest in place.
        { name: FILES.certificate, content: next.certificatePem, mode: 0o644 },
      ]);
      this.apply(next);
      return next.serial;
    });
  }

  /** Stops the timers and the file watcher (the TLS contexts stay as they are). */
  close(): void {
    this.closed = true;
    clearInterval(this.crlTimer);
    clearTimeout(this.renewalTimer);
    clearTimeout(this.reloadTimer);
    this.watcher?.close();
    this.listeners.clear();
  }

  private apply(next: Held): void {
    const previous = this.held.serial;
    this.held = next;
    this.renewalFailures = 0;
    // Renewal and CRL fetching authenticate with whatever we now hold.
    this.client = this.client.withCredentials({ clientCertificate: { keyPem: next.keyPem, certificatePem: next.certificatePem, chainPem: next.chainPem } });
    this.options.log('certificate-rotated', { previous, serial: next.serial, notAfter: next.certificate.validTo });
    this.emit({ reason: 'certificate', serial: next.serial });
    if (this.options.autoRenew !== false) this.scheduleRenewal();
  }

  private emit(change: CredentialChange): void {
    for (const listener of this.listeners) listener(change);
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private startBackgroundWork(): void {
    const { crlRefreshMs = DEFAULT_CRL_REFRESH_MS, autoRenew = true, watchFiles = true, log } = this.options;
    this.crlTimer = setInterval(() => {
      this.refreshCrl().catch((error: unknown) => {
        // The last good CRL stays in use; once its nextUpdate passes OpenSSL refuses every peer
        // (fail closed) until a refresh succeeds.
        log('crl-refresh-failed', { error: String(error), nextUpdate: this.crls?.intermediate.nextUpdate?.toISOString() });
      });
    }, crlRefreshMs);
    this.crlTimer.unref();
    if (autoRenew) this.scheduleRenewal();
    if (watchFiles) {
      this.watcher = watch(this.options.dir, (_event, filename) => {
        if (filename !== FILES.certificate && filename !== FILES.key) return;
        // A writer replaces several files in a row: reload once it has settled.
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => void this.reload(), 100);
      });
      this.watcher.on('error', (error) => log('watch-failed', { error: String(error) }));
    }
  }

  /** Plans the next renewal with the SDK's schedule (two thirds of the lifetime, jittered, backoff). */
  private scheduleRenewal(): void {
    clearTimeout(this.renewalTimer);
    if (this.closed) return;
    const plan = planRenewal(
      { notBefore: new Date(this.held.certificate.validFrom), notAfter: new Date(this.held.certificate.validTo), now: new Date(), failures: this.renewalFailures },
      Math.random,
    );
    this.renewalTimer = setTimeout(() => {
      // Timers top out at ~24.8 days: a later renewal point is simply planned again.
      if (plan.at.getTime() > Date.now()) {
        this.scheduleRenewal();
        return;
      }
      this.renew().catch((error: unknown) => {
        this.renewalFailures += 1;
        this.options.log(plan.urgency === 'critical' ? 'renewal-failed-critical' : 'renewal-failed', { error: String(error), failures: this.renewalFailures });
        this.scheduleRenewal();
      });
    }, Math.min(MAX_TIMER_MS, Math.max(0, plan.at.getTime() - Date.now())));
    this.renewalTimer.unref();
  }
}

/** Reads and checks the directory's credentials; throws when any is missing or they do not fit. */
async function readHeld(dir: string, pinnedFingerprint: string): Promise<Held> {
  const [keyPem, certificatePem, chainPem, rootPem] = await Promise.all(
    [FILES.key, FILES.certificate, FILES.chain, FILES.root].map((name) => readFile(path.join(dir, name), 'utf8')),
  );
  if (keyPem === undefined || certificatePem === undefined || chainPem === undefined || rootPem === undefined) throw new Error('internal: unread file');
  if (sha256Fingerprint(rootPem) !== pinnedFingerprint) throw new Error(`${FILES.root} is not the pinned Trustroot root`);
  return checkedHeld(keyPem, certificatePem, chainPem, rootPem);
}

/** The key belongs to the certificate, the chain's first certificate signed it, and it has not expired. */
function checkedHeld(keyPem: string, certificatePem: string, chainPem: string, rootPem: string): Held {
  const certificate = new X509Certificate(certificatePem);
  if (!certificate.checkPrivateKey(createPrivateKey(keyPem))) throw new Error(`${FILES.key} does not belong to ${FILES.certificate}`);
  const issuer = new X509Certificate(chainPem);
  if (!certificate.verify(issuer.publicKey)) throw new Error(`${FILES.certificate} is not signed by the first certificate of ${FILES.chain}`);
  if (new Date(certificate.validTo).getTime() <= Date.now()) throw new Error(`${FILES.certificate} expired at ${certificate.validTo}`);
  return { keyPem, certificatePem, chainPem, rootPem, certificate, serial: canonicalSerial(certificate.serialNumber) };
}

/** First start: a local key, a CSR, and the single-use token exchanged for the certificate. */
async function bootstrap(options: MtlsCredentialsOptions, pinnedFingerprint: string): Promise<Held> {
  const { trustroot, names, dir } = options;
  // connect() checks the root's fingerprint before the token is ever sent.
  const client = await TrustrootClient.connect({
    caUrl: trustroot.caUrl,
    rootFingerprint: pinnedFingerprint,
    ...(trustroot.publicUrl !== undefined ? { publicUrl: trustroot.publicUrl } : {}),
    ...(trustroot.bootstrapToken !== undefined ? { token: trustroot.bootstrapToken } : {}),
  });
  const [commonName] = names;
  const generated = await generateKeyAndCsr('p256', { ...(commonName !== undefined ? { commonName } : {}), sans: names });
  const issued = await client.issueCertificate({ csr: generated.csrPem, profile: 'peer' });
  const held = checkedHeld(generated.privateKeyPem, issued.certificate, issued.chain, client.rootPem);
  await writeFilesAtomically(dir, [
    { name: FILES.root, content: held.rootPem, mode: 0o644 },
    { name: FILES.chain, content: held.chainPem, mode: 0o644 },
    { name: FILES.key, content: held.keyPem, mode: 0o600 },
    { name: FILES.certificate, content: held.certificatePem, mode: 0o644 },
  ]);
  return held;
}
