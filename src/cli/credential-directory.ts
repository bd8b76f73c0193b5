import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { access, constants, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { CliFailure } from './cli-failure.ts';
import { writeFilesAtomically, type FileToWrite } from './write-files-atomically.ts';

/** The files of a credential directory, as services and their TLS libraries expect them. */
export const CREDENTIAL_FILES = {
  key: 'key.pem',
  certificate: 'cert.pem',
  chain: 'chain.pem',
  root: 'ca.pem',
  pkcs12: 'bundle.p12',
  /** A re-keying renewal's new key, kept until its certificate is written: a retry reuses it. */
  pendingKey: 'key.pem.next',
} as const;

/** What a service holds: its key and certificate, the chain to present, the root to trust. */
export interface HeldCredentials {
  keyPem: string;
  key: KeyObject;
  certificatePem: string;
  certificate: X509Certificate;
  chainPem: string;
  /** `undefined` when ca.pem is absent. */
  rootPem: string | undefined;
}

export interface CredentialsToWrite {
  /** Written with mode 0600; omitted on a renewal that keeps the key. */
  keyPem?: string;
  certificatePem: string;
  chainPem: string;
  rootPem?: string;
  /** Written with mode 0600. */
  pkcs12?: Uint8Array;
}

/**
 * A directory holding key.pem (0600), cert.pem, chain.pem and ca.pem. Writes replace the whole
 * set atomically (see {@link writeFilesAtomically}); reads check that the key and certificate
 * belong together before anything is sent.
 */
export class CredentialDirectory {
  constructor(readonly dir: string) {}

  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** Creates the directory (0700 when new) and checks that it is writable — before a single-use token is spent. */
  async prepare(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await access(this.dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw new CliFailure(`cannot write to ${this.dir} (${(error as NodeJS.ErrnoException).code ?? String(error)}); nothing was requested`);
    }
  }

  /** Reads and checks the held credentials; a missing or unreadable file is a failure naming it, and changes nothing. */
  async read(): Promise<HeldCredentials> {
    const [keyPem, certificatePem, chainPem, rootPem] = await Promise.all([
      this.readText(CREDENTIAL_FILES.key, true),
      this.readText(CREDENTIAL_FILES.certificate, true),
      this.readText(CREDENTIAL_FILES.chain, true),
      this.readText(CREDENTIAL_FILES.root, false),
    ]);
    if (keyPem === undefined || certificatePem === undefined || chainPem === undefined) throw new CliFailure('internal: a required credential file was not read');
    let key: KeyObject;
    let certificate: X509Certificate;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      throw new CliFailure(`${this.file(CREDENTIAL_FILES.key)} is not a readable private key`);
    }
    try {
      certificate = new X509Certificate(certificatePem);
    } catch {
      throw new CliFailure(`${this.file(CREDENTIAL_FILES.certificate)} is not a certificate`);
    }
    if (!certificate.checkPrivateKey(key)) {
      throw new CliFailure(`${this.file(CREDENTIAL_FILES.key)} does not belong to ${this.file(CREDENTIAL_FILES.certificate)}`);
    }
    return { keyPem, key, certificatePem, certificate, chainPem, rootPem };
  }

  /** Replaces the given files together; returns the paths written. */
  async write(credentials: CredentialsToWrite): Promise<string[]> {
    // The certificate goes last: services that watch cert.pem to reload then find the rest in place.
    const files: FileToWrite[] = [];
    if (credentials.rootPem !== undefined) files.push({ name: CREDENTIAL_FILES.root, content: credentials.rootPem, mode: 0o644 });
    files.push({ name: CREDENTIAL_FILES.chain, content: credentials.chainPem, mode: 0o644 });
    if (credentials.pkcs12 !== undefined) files.push({ name: CREDENTIAL_FILES.pkcs12, content: credentials.pkcs12, mode: 0o600 });
    if (credentials.keyPem !== undefined) files.push({ name: CREDENTIAL_FILES.key, content: credentials.keyPem, mode: 0o600 });
    files.push({ name: CREDENTIAL_FILES.certificate, content: credentials.certificatePem, mode: 0o644 });
    try {
      await writeFilesAtomically(this.dir, files);
    } catch (error) {
      throw new CliFailure(`writing to ${this.dir} failed (${(error as NodeJS.ErrnoException).code ?? String(error)}); the previous files are unchanged`, undefined, { cause: error });
    }
    return files.map((file) => this.file(file.name));
  }

  /** The key of a re-keying renewal that has not completed yet, if any. */
  async readPendingKey(): Promise<string | undefined> {
    return this.readText(CREDENTIAL_FILES.pendingKey, false);
  }

  /** Keeps a re-keying renewal's new key (0600) before the request is sent. */
  async writePendingKey(keyPem: string): Promise<void> {
    try {
      await writeFilesAtomically(this.dir, [{ name: CREDENTIAL_FILES.pendingKey, content: keyPem, mode: 0o600 }]);
    } catch (error) {
      throw new CliFailure(`writing ${this.file(CREDENTIAL_FILES.pendingKey)} failed (${(error as NodeJS.ErrnoException).code ?? String(error)}); nothing was requested`, undefined, { cause: error });
    }
  }

  async removePendingKey(): Promise<void> {
    await rm(this.file(CREDENTIAL_FILES.pendingKey), { force: true });
  }

  private async readText(name: string, required: boolean): Promise<string | undefined> {
    try {
      return await readFile(this.file(name), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (!required && code === 'ENOENT') return undefined;
      throw new CliFailure(`cannot read ${this.file(name)} (${code ?? String(error)}); nothing was changed`);
    }
  }
}
