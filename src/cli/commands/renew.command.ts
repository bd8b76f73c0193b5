import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyAndCsr } from '../../client/generate-key-and-csr.ts';
import { KEY_TYPES, keyTypeOf, type KeyType } from '../../client/key-type.ts';
import { sha256Fingerprint, spkiSha256Fingerprint } from '../../client/sha256-fingerprint.ts';
import type { CliCommand, CommandContext } from '../cli-command.ts';
import { CliFailure, UsageError } from '../cli-failure.ts';
import { connectToCa, connectionOptions } from '../connect-to-ca.ts';
import { CREDENTIAL_FILES, CredentialDirectory } from '../credential-directory.ts';
import { ExitCode } from '../exit-codes.ts';
import { runRenewalDaemon } from '../renewal-daemon.ts';
import { runExecHook } from '../run-exec-hook.ts';
import { formatFields, writeMessage, writeResult } from '../write-output.ts';

interface Renewal {
  previousSerial: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  rekeyed: boolean;
  spkiSha256: string;
  files: string[];
  /** Exit code of --exec, when given. */
  execExitCode?: number;
}

interface RenewSettings {
  directory: CredentialDirectory;
  rekey: boolean;
  keyType: KeyType | undefined;
  exec: string | undefined;
}

/** Serial of a Node certificate as Trustroot writes serials: lower-case hex without leading zeros. */
function serialOf(certificate: X509Certificate): string {
  return certificate.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
}

/** The pending key of an unfinished re-keying renewal, when it is readable and of the wanted type. */
async function pendingKeyOfType(directory: CredentialDirectory, keyType: KeyType): Promise<string | undefined> {
  const pem = await directory.readPendingKey().catch(() => undefined);
  if (pem === undefined) return undefined;
  try {
    return keyTypeOf(createPrivateKey(pem)) === keyType ? pem : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One renewal: read and check DIR's credentials (a missing or mismatched key fails here, before
 * anything is sent or written), renew over mTLS with them, and replace the files atomically.
 */
async function renewOnce(context: CommandContext, settings: RenewSettings): Promise<Renewal> {
  const held = await settings.directory.read();
  if (held.rootPem === undefined && context.options.string('root-fingerprint') === undefined) {
    throw new UsageError(`${settings.directory.file(CREDENTIAL_FILES.root)} is missing: give --root-fingerprint (or TRUSTROOT_ROOT_FINGERPRINT)`);
  }
  let replacement: KeyAndCsr | undefined;
  if (settings.rekey) {
    const keyType = settings.keyType ?? keyTypeOf(held.key);
    if (keyType === undefined) throw new CliFailure('the current key type is not one Trustroot issues for; choose one with --key-type');
    // Loaded on use only: @peculiar/x509 is slow to load.
    const [{ certificateNames }, { csrForKey, generateKeyAndCsr }] = await Promise.all([import('../../client/certificate-names.ts'), import('../../client/generate-key-and-csr.ts')]);
    const names = certificateNames(held.certificatePem);
    const subject = { ...(names.commonName ? { commonName: names.commonName } : {}), sans: names.sans };
    // A previous attempt whose answer was lost left its key: asking again with that key gets
    // the renewal it already produced, instead of a refusal for a key nobody holds any more.
    const pending = await pendingKeyOfType(settings.directory, keyType);
    replacement = pending !== undefined ? await csrForKey(pending, keyType, subject) : await generateKeyAndCsr(keyType, subject);
    if (pending === undefined) await settings.directory.writePendingKey(replacement.privateKeyPem);
  }
  const client = await connectToCa(context, {
    clientCertificate: { keyPem: held.keyPem, certificatePem: held.certificatePem, chainPem: held.chainPem },
    ...(held.rootPem !== undefined ? { rootPem: held.rootPem, rootFingerprint: sha256Fingerprint(held.rootPem) } : {}),
  });
  const issued = await client.renewCertificate(replacement ? { csr: replacement.csrPem } : {});
  const expectedKey = replacement?.spkiSha256 ?? spkiSha256Fingerprint(held.key);
  if (spkiSha256Fingerprint(new X509Certificate(issued.certificate).publicKey) !== expectedKey) {
    throw new CliFailure(`the CA returned certificate ${issued.serial} for another key; nothing was written`);
  }
  const files = await settings.directory.write({
    ...(replacement ? { keyPem: replacement.privateKeyPem } : {}),
    certificatePem: issued.certificate,
    chainPem: issued.chain,
  });
  if (replacement) await settings.directory.removePendingKey();
  const renewal: Renewal = {
    previousSerial: serialOf(held.certificate),
    serial: issued.serial,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    rekeyed: replacement !== undefined,
    spkiSha256: expectedKey,
    files,
  };
  if (settings.exec !== undefined) {
    renewal.execExitCode = await runExecHook(context.io, settings.exec, {
      TRUSTROOT_CERT_DIR: settings.directory.dir,
      TRUSTROOT_SERIAL: issued.serial,
      TRUSTROOT_NOT_AFTER: issued.notAfter,
    });
    if (renewal.execExitCode !== 0) writeMessage(context.io, `WARNING --exec exited with ${renewal.execExitCode} after the rotation to ${issued.serial}`);
  }
  return renewal;
}

function report(context: CommandContext, renewal: Renewal): void {
  if (context.json) {
    // One line per rotation, so that a daemon's stdout is a JSON-lines stream.
    context.io.stdout.write(`${JSON.stringify(renewal)}\n`);
    return;
  }
  writeResult(
    context.io,
    formatFields([
      ['renewed', renewal.previousSerial],
      ['serial', renewal.serial],
      ['not after', renewal.notAfter],
      ['new key', renewal.rekeyed ? 'yes' : 'no'],
    ]),
  );
}

/** `trustroot renew`: renew over mTLS with the held certificate, once or as a sidecar daemon. */
export const renewCommand: CliCommand = {
  path: ['renew'],
  summary: 'renew the certificate in DIR over mTLS, once or as a sidecar (--daemon)',
  synopsis: '--dir DIR [--daemon] [--rekey] [--exec CMD] [options]',
  description: `
Authenticates with DIR's key.pem and cert.pem (mTLS; no token) and trusts DIR's ca.pem (or the
root pinned by --root-fingerprint). The new cert.pem and chain.pem — and key.pem with --rekey —
replace the old ones atomically; a missing or unreadable key fails without touching any file.
--exec runs through the shell after each rotation, with TRUSTROOT_CERT_DIR, TRUSTROOT_SERIAL and
TRUSTROOT_NOT_AFTER set.

With --daemon it keeps running: it renews at about two thirds of the lifetime (jittered, or
--renew-before ahead of expiry), retries failures with backoff well before expiry, logs each
failure on stderr (CRITICAL once less than half of the renewal window is left), and exits 1 if
the certificate expires without a renewal. SIGTERM or SIGINT stops it (exit 0).`,
  groups: [
    {
      title: 'Options',
      options: {
        dir: { type: 'string', value: 'DIR', description: 'directory with key.pem, cert.pem, chain.pem (and ca.pem)' },
        rekey: { type: 'boolean', description: 'generate a new key (same type unless --key-type) and renew with a CSR for it' },
        'key-type': { type: 'string', value: 'TYPE', description: `key type for --rekey: ${KEY_TYPES.join(', ')}` },
        exec: { type: 'string', value: 'CMD', description: 'shell command to run after each rotation (e.g. reload the service)' },
        daemon: { type: 'boolean', description: 'keep running and renew before expiry' },
        'renew-before': { type: 'string', value: 'DURATION', description: 'with --daemon: renew when this much validity is left (default a third of the lifetime)' },
      },
    },
    connectionOptions('60s'),
  ],
  examples: [
    'trustroot renew --dir /etc/billing/tls --exec "kill -HUP $(cat /run/billing.pid)"',
    'trustroot renew --dir /etc/billing/tls --daemon --exec "systemctl reload billing"',
  ],
  async run(context) {
    const { options, io } = context;
    const settings: RenewSettings = {
      directory: new CredentialDirectory(options.requiredString('dir')),
      rekey: options.flag('rekey'),
      keyType: options.choice<KeyType>('key-type', KEY_TYPES),
      exec: options.string('exec'),
    };
    if (settings.keyType !== undefined && !settings.rekey) throw new UsageError('--key-type goes with --rekey');
    const renewBeforeMs = options.duration('renew-before');
    if (renewBeforeMs !== undefined && !options.flag('daemon')) throw new UsageError('--renew-before goes with --daemon');
    options.requiredString('ca-url');
    options.duration('wait');

    if (!options.flag('daemon')) {
      const renewal = await renewOnce(context, settings);
      report(context, renewal);
      if (renewal.execExitCode !== undefined && renewal.execExitCode !== 0) {
        throw new CliFailure(`renewed to ${renewal.serial}, but --exec failed with exit code ${renewal.execExitCode}`);
      }
      return ExitCode.ok;
    }

    // A first read before looping: a daemon started without usable credentials should fail at once, not log forever.
    await settings.directory.read();
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    try {
      return await runRenewalDaemon({
        io,
        certificateFile: settings.directory.file(CREDENTIAL_FILES.certificate),
        signal: stop.signal,
        ...(renewBeforeMs !== undefined ? { renewBeforeMs } : {}),
        renew: async () => {
          const renewal = await renewOnce(context, settings);
          report(context, renewal);
          return renewal;
        },
      });
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  },
};
