import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FileKeyStore } from '../../../src/keys/file-key-store.ts';
import { DEV_PASSPHRASE_FILE, resolveKeyPassphrase } from '../../../src/keys/key-passphrase.ts';

const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

describe('resolveKeyPassphrase', () => {
  let dataDir: string;
  let keysDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'trustroot-passphrase-'));
    keysDir = path.join(dataDir, 'keys');
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('uses the configured passphrase and writes nothing', async () => {
    const resolved = await resolveKeyPassphrase('from the environment', dataDir, keysDir);
    assert.deepEqual(resolved, { passphrase: 'from the environment', source: 'environment' });
    assert.deepEqual(await readdir(dataDir), []);
  });

  it('prefers the configured passphrase over an existing development file', async () => {
    const generated = await resolveKeyPassphrase(undefined, dataDir, keysDir);
    const resolved = await resolveKeyPassphrase('from the environment', dataDir, keysDir);
    assert.equal(resolved.source, 'environment');
    assert.equal(resolved.passphrase, 'from the environment');
    assert.notEqual(resolved.passphrase, generated.passphrase);
  });

  it('generates a development passphrase file of mode 0600 and reuses it', async () => {
    const first = await resolveKeyPassphrase(undefined, dataDir, keysDir);
    const file = path.join(dataDir, DEV_PASSPHRASE_FILE);
    assert.equal(first.source, 'generated');
    assert.equal(first.file, file);
    assert.ok(first.passphrase.length >= 32, 'a long random passphrase');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await readFile(file, 'utf8')).trim(), first.passphrase);

    const second = await resolveKeyPassphrase(undefined, dataDir, keysDir);
    assert.deepEqual(second, { passphrase: first.passphrase, source: 'dev-file', file });
    assert.deepEqual(await readdir(dataDir), [DEV_PASSPHRASE_FILE]);
  });

  it('generates a different passphrase for each new data directory', async () => {
    const other = await mkdtemp(path.join(tmpdir(), 'trustroot-passphrase-'));
    try {
      const one = await resolveKeyPassphrase(undefined, dataDir, keysDir);
      const two = await resolveKeyPassphrase(undefined, other, path.join(other, 'keys'));
      assert.notEqual(one.passphrase, two.passphrase);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('the generated passphrase opens the keyring it created on the next start', async () => {
    const first = await resolveKeyPassphrase(undefined, dataDir, keysDir);
    await FileKeyStore.open(keysDir, first.passphrase, FAST_SCRYPT);
    const next = await resolveKeyPassphrase(undefined, dataDir, keysDir);
    assert.equal(next.source, 'dev-file');
    await FileKeyStore.open(keysDir, next.passphrase, FAST_SCRYPT);
  });

  it('refuses to generate a passphrase when keys already exist, naming TRUSTROOT_KEY_PASSPHRASE', async () => {
    await FileKeyStore.open(keysDir, 'an operator passphrase', FAST_SCRYPT);
    const before = await readdir(dataDir);
    await assert.rejects(resolveKeyPassphrase(undefined, dataDir, keysDir), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /TRUSTROOT_KEY_PASSPHRASE/);
      return true;
    });
    assert.deepEqual(await readdir(dataDir), before);
    await assert.rejects(stat(path.join(dataDir, DEV_PASSPHRASE_FILE)), { code: 'ENOENT' });
  });
});
