import { createCipheriv, createDecipheriv, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Envelope encryption for CA private keys: a key-encryption key (KEK) is derived once from the
 * passphrase with scrypt, and each private key is sealed with AES-256-GCM under it, with the
 * key's reference as additional authenticated data (so a key file cannot be swapped for another).
 */

export interface ScryptParameters {
  /** CPU/memory cost; 2^17 costs about 128 MiB and a few hundred milliseconds, once per start. */
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParameters = { N: 2 ** 17, r: 8, p: 1 };

export interface KeyringHeader {
  version: 1;
  kdf: { name: 'scrypt'; salt: string } & ScryptParameters;
  /** AES-256-GCM seal of a fixed text under the KEK: tells a wrong passphrase apart from damage. */
  check: SealedBox;
}

export interface SealedBox {
  iv: string;
  ciphertext: string;
  tag: string;
}

const CHECK_TEXT = Buffer.from('trustroot keyring v1');
const CHECK_AAD = 'keyring-check';

export class WrongPassphraseError extends Error {
  override readonly name = 'WrongPassphraseError';
}

function deriveKek(passphrase: string, salt: Buffer, params: ScryptParameters): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, 32, { ...params, maxmem: 256 * params.N * params.r + 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export function seal(kek: Buffer, plaintext: Uint8Array, aad: string): SealedBox {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv: iv.toString('base64'), ciphertext: ciphertext.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/** Opens a sealed box; throws when the KEK, the AAD or the box is wrong. */
export function open(kek: Buffer, box: SealedBox, aad: string): Buffer {
  // A pinned tag length: a truncated tag would otherwise verify with fewer bits of integrity.
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(box.iv, 'base64'), { authTagLength: 16 });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(box.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(box.ciphertext, 'base64')), decipher.final()]);
}

/** Creates a new keyring header and its KEK for `passphrase`. */
export async function createKeyring(
  passphrase: string,
  params: ScryptParameters = DEFAULT_SCRYPT,
): Promise<{ header: KeyringHeader; kek: Buffer }> {
  const salt = randomBytes(16);
  const kek = await deriveKek(passphrase, salt, params);
  const header: KeyringHeader = {
    version: 1,
    kdf: { name: 'scrypt', salt: salt.toString('base64'), ...params },
    check: seal(kek, CHECK_TEXT, CHECK_AAD),
  };
  return { header, kek };
}

/** Derives the KEK of an existing keyring; throws `WrongPassphraseError` if it does not open. */
export async function unlockKeyring(header: KeyringHeader, passphrase: string): Promise<Buffer> {
  const { salt, N, r, p } = header.kdf;
  const kek = await deriveKek(passphrase, Buffer.from(salt, 'base64'), { N, r, p });
  let check: Buffer;
  try {
    check = open(kek, header.check, CHECK_AAD);
  } catch {
    throw new WrongPassphraseError('the key passphrase does not open the CA keyring');
  }
  if (check.length !== CHECK_TEXT.length || !timingSafeEqual(check, CHECK_TEXT)) {
    throw new WrongPassphraseError('the key passphrase does not open the CA keyring');
  }
  return kek;
}
