import { randomBytes } from 'node:crypto';
import { link, mkdir, open as openFile, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../domain/key-algorithm.ts';
import type { SecretSealer, SigningKeyStore } from '../domain/ports.ts';
import { nodeCrypto } from '../domain/x509/crypto-provider.ts';
import {
  createKeyring,
  DEFAULT_SCRYPT,
  open,
  seal,
  type KeyringHeader,
  type ScryptParameters,
  type SealedBox,
} from './key-encryption.ts';
import { unlockKeyring } from './key-encryption.ts';

interface KeyFile {
  version: 1;
  keyRef: string;
  algorithm: KeyAlgorithmName;
  /** AES-256-GCM seal of the PKCS#8 DER private key; AAD = keyRef. */
  sealed: SealedBox;
}

const KEYRING_FILE = 'keyring.json';

/**
 * Writes a file readable by its owner only, atomically: a temporary file is written and
 * fsynced, then renamed into place, or, with `exclusive`, hard-linked into place so that an
 * existing file is never replaced. Returns false when `exclusive` found the file already there.
 */
async function writePrivateFile(file: string, content: string, options: { exclusive?: boolean } = {}): Promise<boolean> {
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await openFile(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (!options.exclusive) {
    await rename(temporary, file);
    return true;
  }
  try {
    await link(temporary, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temporary, { force: true });
  }
}

/**
 * CA private keys as encrypted files in one folder (`<dataDir>/keys`): a `keyring.json` with
 * the scrypt parameters and a passphrase check, and one `<keyRef>.key.json` per key, sealed
 * with AES-256-GCM. Keys are decrypted only into non-extractable WebCrypto handles.
 */
export class FileKeyStore implements SigningKeyStore {
  private constructor(
    private readonly directory: string,
    private readonly kek: Buffer,
  ) {}

  /**
   * Opens the key folder with `passphrase`, creating the keyring on first use. A wrong
   * passphrase throws `WrongPassphraseError` and writes nothing.
   */
  static async open(directory: string, passphrase: string, scryptParams: ScryptParameters = DEFAULT_SCRYPT): Promise<FileKeyStore> {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const keyringPath = path.join(directory, KEYRING_FILE);
    const existing = await readFile(keyringPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (existing !== undefined) {
      const kek = await unlockKeyring(JSON.parse(existing) as KeyringHeader, passphrase);
      return new FileKeyStore(directory, kek);
    }
    const { header, kek } = await createKeyring(passphrase, scryptParams);
    const created = await writePrivateFile(keyringPath, `${JSON.stringify(header, null, 2)}\n`, { exclusive: true });
    if (!created) {
      // Another process sharing this folder created the keyring first: use theirs.
      return FileKeyStore.open(directory, passphrase, scryptParams);
    }
    return new FileKeyStore(directory, kek);
  }

  /** True when the folder already holds a keyring (keys were created with some passphrase). */
  static async exists(directory: string): Promise<boolean> {
    return stat(path.join(directory, KEYRING_FILE)).then(
      () => true,
      () => false,
    );
  }

  private fileOf(keyRef: string): string {
    if (!/^[a-z0-9-]+$/.test(keyRef)) throw new Error(`invalid key reference ${JSON.stringify(keyRef)}`);
    return path.join(this.directory, `${keyRef}.key.json`);
  }

  async generate(keyRef: string, algorithm: KeyAlgorithmName): Promise<CryptoKeyPair> {
    const { keyParams, usages } = keyAlgorithmParameters(algorithm);
    // Extractable only for the moment it takes to seal it; the handle returned is not.
    const pair = (await nodeCrypto.subtle.generateKey(keyParams, true, usages)) as CryptoKeyPair;
    const pkcs8 = new Uint8Array(await nodeCrypto.subtle.exportKey('pkcs8', pair.privateKey));
    const file: KeyFile = { version: 1, keyRef, algorithm, sealed: seal(this.kek, pkcs8, keyRef) };
    pkcs8.fill(0);
    // Exclusive: a key reference is never reused, so an existing CA key can never be replaced.
    if (!(await writePrivateFile(this.fileOf(keyRef), `${JSON.stringify(file, null, 2)}\n`, { exclusive: true }))) {
      throw new Error(`a key named ${keyRef} already exists`);
    }
    return { publicKey: pair.publicKey, privateKey: await this.load(keyRef, algorithm) };
  }

  async load(keyRef: string, algorithm: KeyAlgorithmName): Promise<CryptoKey> {
    const text = await readFile(this.fileOf(keyRef), 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        throw new Error(`the encrypted key ${keyRef} is missing from ${this.directory}; copy the keys folder from the data directory that created the CA`);
      }
      throw error;
    });
    const file = JSON.parse(text) as KeyFile;
    if (file.keyRef !== keyRef || file.algorithm !== algorithm) {
      throw new Error(`the key file for ${keyRef} describes another key`);
    }
    const opened = open(this.kek, file.sealed, keyRef);
    const pkcs8 = new Uint8Array(opened);
    opened.fill(0);
    try {
      const { keyParams } = keyAlgorithmParameters(algorithm);
      return await nodeCrypto.subtle.importKey('pkcs8', pkcs8, keyParams, false, ['sign']);
    } finally {
      pkcs8.fill(0);
    }
  }

  /** Seals small secrets (webhook HMAC keys) under the same key-encryption key. */
  secretSealer(): SecretSealer {
    const kek = this.kek;
    return {
      seal: (secret, context) => new TextEncoder().encode(JSON.stringify(seal(kek, Buffer.from(secret, 'utf8'), `secret:${context}`))),
      open: (sealed, context) => open(kek, JSON.parse(new TextDecoder().decode(sealed)) as SealedBox, `secret:${context}`).toString('utf8'),
    };
  }

  async discard(keyRef: string): Promise<void> {
    await rm(this.fileOf(keyRef), { force: true });
  }
}
