import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../../../src/domain/key-algorithm.ts';
import { FileKeyStore } from '../../../src/keys/file-key-store.ts';
import { WrongPassphraseError } from '../../../src/keys/key-encryption.ts';

const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASSPHRASE = 'unit-test passphrase 0001';
const ALGORITHMS: KeyAlgorithmName[] = ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048'];
/** DER prefix of every PKCS#8 ECDSA P-256 private key: SEQUENCE, version 0, AlgorithmIdentifier id-ecPublicKey. */
const PKCS8_P256_HEADER = Buffer.from('308187020100301306072a8648ce3d0201', 'hex');
const DATA = new TextEncoder().encode('to be signed by a CA key');

const temporaryDirs: string[] = [];
async function newDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'trustroot-keys-'));
  temporaryDirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(temporaryDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function signVerifies(algorithm: KeyAlgorithmName, privateKey: CryptoKey, publicKey: CryptoKey): Promise<boolean> {
  const { signingParams } = keyAlgorithmParameters(algorithm);
  const signature = await webcrypto.subtle.sign(signingParams, privateKey, DATA);
  return webcrypto.subtle.verify(signingParams, publicKey, signature, DATA);
}

/** The bytes after the outer SEQUENCE header of a PKCS#8 key of this algorithm: version and AlgorithmIdentifier. */
async function pkcs8AlgorithmPrefix(algorithm: KeyAlgorithmName): Promise<Buffer> {
  const { keyParams, usages } = keyAlgorithmParameters(algorithm);
  const pair = (await webcrypto.subtle.generateKey(keyParams, true, usages)) as CryptoKeyPair;
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
  const lengthByte = der[1] ?? 0;
  const offset = lengthByte < 0x80 ? 2 : 2 + (lengthByte & 0x7f);
  return der.subarray(offset, offset + 12);
}

async function filesOf(dir: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) {
    hashes.set(name, createHash('sha256').update(await readFile(path.join(dir, name))).digest('hex'));
  }
  return hashes;
}

interface SealedFile {
  keyRef: string;
  algorithm: string;
  sealed: { iv: string; ciphertext: string; tag: string };
}

describe('FileKeyStore generate and load', () => {
  let dir: string;
  let store: FileKeyStore;
  const generated = new Map<KeyAlgorithmName, CryptoKeyPair>();

  before(async () => {
    dir = await newDir();
    store = await FileKeyStore.open(dir, PASSPHRASE, FAST_SCRYPT);
    for (const algorithm of ALGORITHMS) {
      generated.set(algorithm, await store.generate(`key-${algorithm}`, algorithm));
    }
  });

  function pairOf(algorithm: KeyAlgorithmName): CryptoKeyPair {
    const pair = generated.get(algorithm);
    if (!pair) throw new Error(`no key generated for ${algorithm}`);
    return pair;
  }

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: returns a non-extractable private key that signs for the returned public key`, async () => {
      const { privateKey, publicKey } = pairOf(algorithm);
      assert.equal(privateKey.type, 'private');
      assert.equal(privateKey.extractable, false);
      assert.deepEqual(privateKey.usages, ['sign']);
      await assert.rejects(webcrypto.subtle.exportKey('pkcs8', privateKey));
      assert.equal(publicKey.type, 'public');
      assert.equal(await signVerifies(algorithm, privateKey, publicKey), true);
    });

    it(`${algorithm}: stores the key sealed, never in clear`, async () => {
      const raw = await readFile(path.join(dir, `key-${algorithm}.key.json`));
      const file = JSON.parse(raw.toString('utf8')) as SealedFile;
      assert.equal(file.keyRef, `key-${algorithm}`);
      assert.equal(file.algorithm, algorithm);
      const ciphertext = Buffer.from(file.sealed.ciphertext, 'base64');
      const prefix = await pkcs8AlgorithmPrefix(algorithm);
      assert.ok(ciphertext.length > prefix.length, 'the sealed key has a body');
      for (const haystack of [raw, ciphertext]) {
        assert.equal(haystack.includes(prefix), false, 'PKCS#8 header in clear');
        assert.equal(haystack.includes(PKCS8_P256_HEADER), false, 'P-256 PKCS#8 header in clear');
        assert.equal(haystack.includes('PRIVATE KEY'), false);
        assert.equal(haystack.includes('BEGIN'), false);
      }
    });

    it(`${algorithm}: a reopened store loads the same key`, async () => {
      const reopened = await FileKeyStore.open(dir, PASSPHRASE, FAST_SCRYPT);
      const privateKey = await reopened.load(`key-${algorithm}`, algorithm);
      assert.equal(privateKey.extractable, false);
      assert.equal(await signVerifies(algorithm, privateKey, pairOf(algorithm).publicKey), true);
    });
  }

  it('a loaded key does not verify for another key of the same algorithm', async () => {
    const other = await store.generate('other-p256', 'ecdsa-p256');
    const loaded = await store.load('key-ecdsa-p256', 'ecdsa-p256');
    assert.equal(await signVerifies('ecdsa-p256', loaded, other.publicKey), false);
    await store.discard('other-p256');
  });

  it('writes files readable by the owner only, in a folder of mode 0700', async () => {
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    const names = await readdir(dir);
    assert.deepEqual(
      names.sort(),
      ['keyring.json', ...ALGORITHMS.map((algorithm) => `key-${algorithm}.key.json`)].sort(),
      'no temporary file is left behind',
    );
    for (const name of names) {
      assert.equal((await stat(path.join(dir, name))).mode & 0o777, 0o600, name);
    }
  });

  it('creates a missing keys folder with mode 0700', async () => {
    const nested = path.join(await newDir(), 'data', 'keys');
    await FileKeyStore.open(nested, PASSPHRASE, FAST_SCRYPT);
    assert.equal((await stat(nested)).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(nested), ['keyring.json']);
  });

  it('refuses to load a key under another algorithm', async () => {
    await assert.rejects(store.load('key-ecdsa-p256', 'ecdsa-p384'), /describes another key/);
    await assert.rejects(store.load('key-rsa-2048', 'ed25519'), /describes another key/);
  });

  it('refuses a key file copied under another key reference', async () => {
    const copied = await readFile(path.join(dir, 'key-ecdsa-p256.key.json'));
    await writeFile(path.join(dir, 'copy-p256.key.json'), copied, { mode: 0o600 });
    try {
      await assert.rejects(store.load('copy-p256', 'ecdsa-p256'), /describes another key/);
      const relabelled = { ...(JSON.parse(copied.toString('utf8')) as SealedFile), keyRef: 'copy-p256' };
      await writeFile(path.join(dir, 'copy-p256.key.json'), JSON.stringify(relabelled));
      // The key reference is the AAD: a relabelled file does not open.
      await assert.rejects(store.load('copy-p256', 'ecdsa-p256'));
    } finally {
      await rm(path.join(dir, 'copy-p256.key.json'), { force: true });
    }
  });

  it('names the missing key and the folder when a key file is absent', async () => {
    await assert.rejects(store.load('never-generated', 'ecdsa-p256'), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /never-generated/);
      assert.ok(error.message.includes(dir));
      return true;
    });
  });

  const badRefs = ['../escape', 'a/b', '..', '/etc/passwd', 'Root', 'root.key', '', 'a\\b'];
  for (const keyRef of badRefs) {
    it(`refuses the key reference ${JSON.stringify(keyRef)} in generate, load and discard`, async () => {
      const before = await filesOf(dir);
      const parentBefore = await readdir(path.dirname(dir));
      await assert.rejects(store.generate(keyRef, 'ecdsa-p256'), /invalid key reference/);
      await assert.rejects(store.load(keyRef, 'ecdsa-p256'), /invalid key reference/);
      await assert.rejects(store.discard(keyRef), /invalid key reference/);
      assert.deepEqual(await filesOf(dir), before);
      assert.deepEqual(await readdir(path.dirname(dir)), parentBefore);
    });
  }
});

describe('FileKeyStore discard', () => {
  it('removes the key file and only that file', async () => {
    const dir = await newDir();
    const store = await FileKeyStore.open(dir, PASSPHRASE, FAST_SCRYPT);
    await store.generate('keep-me', 'ed25519');
    await store.generate('drop-me', 'ed25519');
    await store.discard('drop-me');
    assert.deepEqual((await readdir(dir)).sort(), ['keep-me.key.json', 'keyring.json']);
    await assert.rejects(store.load('drop-me', 'ed25519'), /missing/);
    await store.load('keep-me', 'ed25519');
    await store.discard('drop-me'); // discarding twice is harmless
  });
});

describe('FileKeyStore.open with a wrong passphrase', () => {
  it('throws WrongPassphraseError and changes no file', async () => {
    const dir = await newDir();
    const store = await FileKeyStore.open(dir, PASSPHRASE, FAST_SCRYPT);
    await store.generate('root-01', 'ecdsa-p384');
    const before = await filesOf(dir);
    assert.equal(before.size, 2);
    await assert.rejects(FileKeyStore.open(dir, 'not the passphrase', FAST_SCRYPT), WrongPassphraseError);
    assert.deepEqual(await filesOf(dir), before);
    assert.equal(await FileKeyStore.exists(dir), true);
  });
});

describe('FileKeyStore.exists', () => {
  it('is false for an empty or missing folder and true once a keyring exists', async () => {
    const dir = await newDir();
    assert.equal(await FileKeyStore.exists(dir), false);
    assert.equal(await FileKeyStore.exists(path.join(dir, 'absent')), false);
    await FileKeyStore.open(dir, PASSPHRASE, FAST_SCRYPT);
    assert.equal(await FileKeyStore.exists(dir), true);
  });
});

describe('FileKeyStore.open racing on a new folder', () => {
  it('creates the keyring once and both stores read each other’s keys', async () => {
    const dir = path.join(await newDir(), 'keys');
    const [one, two] = await Promise.all([
      FileKeyStore.open(dir, PASSPHRASE, FAST_SCRYPT),
      FileKeyStore.open(dir, PASSPHRASE, FAST_SCRYPT),
    ]);
    const fromOne = await one.generate('made-by-one', 'ecdsa-p256');
    const fromTwo = await two.generate('made-by-two', 'ecdsa-p256');
    assert.equal(await signVerifies('ecdsa-p256', await two.load('made-by-one', 'ecdsa-p256'), fromOne.publicKey), true);
    assert.equal(await signVerifies('ecdsa-p256', await one.load('made-by-two', 'ecdsa-p256'), fromTwo.publicKey), true);
    assert.deepEqual((await readdir(dir)).sort(), ['keyring.json', 'made-by-one.key.json', 'made-by-two.key.json']);
  });

  it('survives many concurrent openers', async () => {
    const dir = path.join(await newDir(), 'keys');
    const stores = await Promise.all(Array.from({ length: 6 }, () => FileKeyStore.open(dir, PASSPHRASE, FAST_SCRYPT)));
    const first = stores[0];
    assert.ok(first);
    const pair = await first.generate('shared', 'ed25519');
    for (const store of stores) {
      assert.equal(await signVerifies('ed25519', await store.load('shared', 'ed25519'), pair.publicKey), true);
    }
    assert.deepEqual((await readdir(dir)).sort(), ['keyring.json', 'shared.key.json']);
  });
});

describe('FileKeyStore generate over an existing key reference', () => {
  it(
    'never replaces a stored CA key',
    async () => {
      const dir = await newDir();
      const store = await FileKeyStore.open(dir, PASSPHRASE, FAST_SCRYPT);
      const original = await store.generate('root-01', 'ecdsa-p256');
      await assert.rejects(store.generate('root-01', 'ecdsa-p256'));
      assert.equal(await signVerifies('ecdsa-p256', await store.load('root-01', 'ecdsa-p256'), original.publicKey), true);
    },
  );
});
