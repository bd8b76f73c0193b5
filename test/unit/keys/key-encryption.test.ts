import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  createKeyring,
  open,
  seal,
  unlockKeyring,
  WrongPassphraseError,
  type KeyringHeader,
  type SealedBox,
} from '../../../src/keys/key-encryption.ts';

const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASSPHRASE = 'correct horse battery staple';

/** Flips one bit of a base64 field. */
function flipBit(base64: string, byteIndex = 0): string {
  const bytes = Buffer.from(base64, 'base64');
  const index = byteIndex % bytes.length;
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

describe('seal and open', () => {
  const kek = randomBytes(32);
  const plaintext = new Uint8Array(randomBytes(121));

  it('round-trips the plaintext', () => {
    const box = seal(kek, plaintext, 'root-0a0b');
    assert.deepEqual(new Uint8Array(open(kek, box, 'root-0a0b')), plaintext);
  });

  it('uses a fresh 96-bit IV each time and does not store the plaintext', () => {
    const one = seal(kek, plaintext, 'k');
    const two = seal(kek, plaintext, 'k');
    assert.equal(Buffer.from(one.iv, 'base64').length, 12);
    assert.equal(Buffer.from(one.tag, 'base64').length, 16);
    assert.notEqual(one.iv, two.iv);
    assert.notEqual(one.ciphertext, two.ciphertext);
    assert.notDeepEqual(new Uint8Array(Buffer.from(one.ciphertext, 'base64')), plaintext);
  });

  const box = seal(kek, plaintext, 'root-0a0b');
  const failures: { name: string; kek: Buffer; box: SealedBox; aad: string }[] = [
    { name: 'a wrong AAD (another key reference)', kek, box, aad: 'intermediate-0a0b' },
    { name: 'an empty AAD', kek, box, aad: '' },
    { name: 'a wrong KEK', kek: randomBytes(32), box, aad: 'root-0a0b' },
    { name: 'a tampered ciphertext', kek, box: { ...box, ciphertext: flipBit(box.ciphertext, 7) }, aad: 'root-0a0b' },
    { name: 'a tampered tag', kek, box: { ...box, tag: flipBit(box.tag, 3) }, aad: 'root-0a0b' },
    { name: 'a tampered IV', kek, box: { ...box, iv: flipBit(box.iv) }, aad: 'root-0a0b' },
  ];
  for (const failure of failures) {
    it(`refuses to open with ${failure.name}`, () => {
      assert.throws(() => open(failure.kek, failure.box, failure.aad));
    });
  }

  it(
    'refuses a box whose tag was truncated to 4 bytes',
    () => {
      const truncated = { ...box, tag: Buffer.from(box.tag, 'base64').subarray(0, 4).toString('base64') };
      assert.throws(() => open(kek, truncated, 'root-0a0b'));
    },
  );
});

describe('createKeyring and unlockKeyring', () => {
  it('unlocks with the right passphrase to the same KEK', async () => {
    const { header, kek } = await createKeyring(PASSPHRASE, FAST_SCRYPT);
    assert.equal(header.version, 1);
    assert.deepEqual({ ...header.kdf, salt: undefined }, { name: 'scrypt', salt: undefined, ...FAST_SCRYPT });
    assert.equal(Buffer.from(header.kdf.salt, 'base64').length, 16);
    assert.equal(kek.length, 32);
    const unlocked = await unlockKeyring(JSON.parse(JSON.stringify(header)) as KeyringHeader, PASSPHRASE);
    assert.deepEqual(unlocked, kek);
  });

  it('uses a fresh salt, so the same passphrase gives a different KEK per keyring', async () => {
    const one = await createKeyring(PASSPHRASE, FAST_SCRYPT);
    const two = await createKeyring(PASSPHRASE, FAST_SCRYPT);
    assert.notEqual(one.header.kdf.salt, two.header.kdf.salt);
    assert.notDeepEqual(one.kek, two.kek);
  });

  it('seals keys that the unlocked KEK opens', async () => {
    const { header, kek } = await createKeyring(PASSPHRASE, FAST_SCRYPT);
    const box = seal(kek, new Uint8Array([1, 2, 3]), 'root-01');
    const unlocked = await unlockKeyring(header, PASSPHRASE);
    assert.deepEqual([...open(unlocked, box, 'root-01')], [1, 2, 3]);
  });

  for (const wrong of ['correct horse battery stapler', '', PASSPHRASE.toUpperCase()]) {
    it(`throws WrongPassphraseError for ${JSON.stringify(wrong)}`, async () => {
      const { header } = await createKeyring(PASSPHRASE, FAST_SCRYPT);
      await assert.rejects(unlockKeyring(header, wrong), WrongPassphraseError);
    });
  }

  it('throws WrongPassphraseError when the check box was tampered with', async () => {
    const { header } = await createKeyring(PASSPHRASE, FAST_SCRYPT);
    const tampered: KeyringHeader = { ...header, check: { ...header.check, ciphertext: flipBit(header.check.ciphertext) } };
    await assert.rejects(unlockKeyring(tampered, PASSPHRASE), WrongPassphraseError);
  });
});
