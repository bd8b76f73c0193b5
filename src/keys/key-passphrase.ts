import { randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { FileKeyStore } from './file-key-store.ts';

export const DEV_PASSPHRASE_FILE = 'dev-key-passphrase';

export interface ResolvedPassphrase {
  passphrase: string;
  /** Where it came from; `generated` means it was created just now (development only). */
  source: 'environment' | 'dev-file' | 'generated';
  file?: string;
}

/**
 * The passphrase that encrypts the CA keys: TRUSTROOT_KEY_PASSPHRASE when set; otherwise, for
 * development, a random one kept in `<dataDir>/dev-key-passphrase` (mode 0600). A new file is
 * generated only when no keyring exists yet, so keys made with an environment passphrase are
 * never silently orphaned by a missing variable.
 */
export async function resolveKeyPassphrase(
  configured: string | undefined,
  dataDir: string,
  keysDir: string,
): Promise<ResolvedPassphrase> {
  if (configured !== undefined) return { passphrase: configured, source: 'environment' };
  const file = path.join(dataDir, DEV_PASSPHRASE_FILE);
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing !== undefined && existing.trim() !== '') {
    return { passphrase: existing.trim(), source: 'dev-file', file };
  }
  if (await FileKeyStore.exists(keysDir)) {
    throw new Error(
      `TRUSTROOT_KEY_PASSPHRASE is not set and ${file} does not exist, but the CA keys in ${keysDir} are encrypted: set TRUSTROOT_KEY_PASSPHRASE to the passphrase they were created with`,
    );
  }
  const passphrase = randomBytes(32).toString('base64url');
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(`${passphrase}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { passphrase, source: 'generated', file };
}
