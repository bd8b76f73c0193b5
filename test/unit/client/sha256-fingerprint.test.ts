import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { normalizeFingerprint, spkiSha256Fingerprint } from '../../../src/client/sha256-fingerprint.ts';

const HEX = 'c8abfcc108edae2d94307d0f772c89e2b8066fdf45597248daf80fea6e9487a7';
const COLONS = HEX.toUpperCase().replace(/(..)(?!$)/g, '$1:');

describe('normalizeFingerprint', () => {
  const accepted: [string, string][] = [
    ['lower-case hex', HEX],
    ['upper-case hex', HEX.toUpperCase()],
    ['OpenSSL colons', COLONS],
    ['sha256: prefix', `sha256:${HEX}`],
    ['SHA256: prefix and colons', `SHA256:${COLONS}`],
    ["OpenSSL's whole line", `sha256 Fingerprint=${COLONS}`],
    ['surrounding spaces', `  ${HEX}\n`],
  ];
  for (const [name, input] of accepted) {
    it(`accepts ${name}`, () => assert.equal(normalizeFingerprint(input), HEX));
  }
  const refused: [string, string][] = [
    ['a truncated value', HEX.slice(0, 63)],
    ['one digit too many', `${HEX}0`],
    ['a SHA-1 fingerprint', HEX.slice(0, 40)],
    ['non-hex characters', `${HEX.slice(0, 63)}g`],
    ['another algorithm prefix', `sha1:${HEX}`],
    ['empty', ''],
  ];
  for (const [name, input] of refused) {
    it(`refuses ${name}`, () => assert.throws(() => normalizeFingerprint(input), RangeError));
  }
});

describe('spkiSha256Fingerprint', () => {
  it('hashes the DER SubjectPublicKeyInfo, the same for the private key and its public half', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const expected = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
    assert.equal(spkiSha256Fingerprint(publicKey), expected);
    assert.equal(spkiSha256Fingerprint(privateKey), expected);
  });
});
