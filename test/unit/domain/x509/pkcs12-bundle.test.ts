import assert from 'node:assert/strict';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { RandomSource } from '../../../../src/domain/clock.ts';
import { DomainError } from '../../../../src/domain/errors.ts';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../../../../src/domain/key-algorithm.ts';
import { x509 } from '../../../../src/domain/x509/crypto-provider.ts';
import { buildPkcs12, PKCS12_DEFAULT_ITERATIONS } from '../../../../src/domain/x509/pkcs12-bundle.ts';
import { openssl, pemFiles } from '../../../support/openssl.ts';

/** Low enough to keep the suite fast; one test below exercises the production default. */
const TEST_ITERATIONS = 2048;
const PASSWORD = 'correct horse battery staple';
const NOT_BEFORE = new Date('2030-01-01T00:00:00Z');
const NOT_AFTER = new Date('2031-01-01T00:00:00Z');
const CA_SIGNING = keyAlgorithmParameters('ecdsa-p256');

interface Chain {
  privateKeyPkcs8Der: Uint8Array;
  leafDer: Uint8Array;
  /** Intermediate, then root: the order a TLS server sends them in. */
  chainDer: Uint8Array[];
}

async function generateKeys(algorithm: KeyAlgorithmName): Promise<CryptoKeyPair> {
  const { keyParams, usages } = keyAlgorithmParameters(algorithm);
  return (await webcrypto.subtle.generateKey(keyParams, true, usages)) as CryptoKeyPair;
}

/** A root CA, an intermediate it signs, and a leaf with an `algorithm` key that the intermediate signs. */
async function buildChain(algorithm: KeyAlgorithmName): Promise<Chain> {
  const caExtensions = () => [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
  const rootKeys = await generateKeys('ecdsa-p256');
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=PKCS12 Test Root',
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    keys: rootKeys,
    signingAlgorithm: CA_SIGNING.signingParams,
    extensions: caExtensions(),
  });
  const intermediateKeys = await generateKeys('ecdsa-p256');
  const intermediate = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=PKCS12 Test Intermediate',
    issuer: root.subjectName,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    publicKey: intermediateKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: CA_SIGNING.signingParams,
    extensions: caExtensions(),
  });
  const leafKeys = await generateKeys(algorithm);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '03',
    subject: `CN=ci-${algorithm}.test.internal`,
    issuer: intermediate.subjectName,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    publicKey: leafKeys.publicKey,
    signingKey: intermediateKeys.privateKey,
    signingAlgorithm: CA_SIGNING.signingParams,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  return {
    privateKeyPkcs8Der: new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey)),
    leafDer: new Uint8Array(leaf.rawData),
    chainDer: [new Uint8Array(intermediate.rawData), new Uint8Array(root.rawData)],
  };
}

/** A deterministic byte stream (SHA-256 in counter mode over `seed`) that records the lengths asked for. */
function seededRandom(seed: string): RandomSource & { requests: number[] } {
  const requests: number[] = [];
  let counter = 0;
  return {
    requests,
    bytes(length: number) {
      requests.push(length);
      const out = new Uint8Array(length);
      for (let offset = 0; offset < length; offset += 32) {
        const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
        out.set(block.subarray(0, length - offset), offset);
      }
      return out;
    },
  };
}

function bundle(chain: Chain, overrides: Partial<Parameters<typeof buildPkcs12>[0]> = {}): Uint8Array {
  return buildPkcs12({
    privateKeyPkcs8Der: chain.privateKeyPkcs8Der,
    certificateDer: chain.leafDer,
    chainDer: chain.chainDer,
    password: PASSWORD,
    friendlyName: 'ci test leaf',
    random: seededRandom('bundle'),
    iterations: TEST_ITERATIONS,
    ...overrides,
  });
}

function pemBlocks(text: string, label: string): string[] {
  return text.match(new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`, 'g')) ?? [];
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** OpenSSL prints localKeyID as spaced upper-case hex octets. */
function opensslHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');
}

describe('buildPkcs12, checked by OpenSSL and Node', () => {
  let files: Awaited<ReturnType<typeof pemFiles>>;
  before(async () => {
    files = await pemFiles({});
  });
  after(async () => {
    await files.cleanup();
  });

  async function writeBundle(name: string, p12: Uint8Array): Promise<string> {
    const file = files.path(name);
    await writeFile(file, p12);
    return file;
  }

  for (const algorithm of ['ecdsa-p256', 'rsa-2048', 'ed25519'] as const) {
    describe(`with an ${algorithm} leaf key`, () => {
      let chain: Chain;
      let p12: Uint8Array;
      let p12File: string;
      before(async () => {
        chain = await buildChain(algorithm);
        p12 = bundle(chain);
        p12File = await writeBundle(`${algorithm}.p12`, p12);
      });

      it('opens in OpenSSL with the password: MAC verified, PBES2/AES-256-CBC everywhere', async () => {
        const result = await openssl(['pkcs12', '-in', p12File, '-passin', `pass:${PASSWORD}`, '-nodes', '-info']);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stderr, new RegExp(`MAC: sha256, Iteration ${TEST_ITERATIONS}\\b`));
        assert.match(result.stderr, /MAC length: 32, salt length: 16/);
        const pbes2 = `PBES2, PBKDF2, AES-256-CBC, Iteration ${TEST_ITERATIONS}, PRF hmacWithSHA256`;
        assert.ok(result.stderr.includes(`PKCS7 Encrypted data: ${pbes2}`), result.stderr);
        assert.ok(result.stderr.includes(`Shrouded Keybag: ${pbes2}`), result.stderr);
        assert.doesNotMatch(result.stderr, /error/i);
      });

      it('holds the leaf, then the chain in order, byte for byte', async () => {
        const result = await openssl(['pkcs12', '-in', p12File, '-passin', `pass:${PASSWORD}`, '-nodes']);
        assert.equal(result.code, 0, result.stderr);
        const certificates = pemBlocks(result.stdout, 'CERTIFICATE').map(pemToDer);
        assert.deepEqual(certificates, [chain.leafDer, ...chain.chainDer].map((der) => Buffer.from(der)));
      });

      it('pairs the key and the leaf by localKeyID = SHA-1(leaf) and friendlyName; chain bags carry none', async () => {
        const result = await openssl(['pkcs12', '-in', p12File, '-passin', `pass:${PASSWORD}`, '-nodes']);
        assert.equal(result.code, 0, result.stderr);
        const localKeyId = opensslHex(createHash('sha1').update(chain.leafDer).digest());
        assert.equal(result.stdout.split(`localKeyID: ${localKeyId}`).length - 1, 2, result.stdout);
        assert.equal(result.stdout.split('friendlyName: ci test leaf').length - 1, 2, result.stdout);
        assert.equal(result.stdout.split('Bag Attributes: <No Attributes>').length - 1, chain.chainDer.length);
      });

      it('holds the private key whose public key is the leaf certificate public key', async () => {
        const result = await openssl(['pkcs12', '-in', p12File, '-passin', `pass:${PASSWORD}`, '-nodes', '-nocerts']);
        assert.equal(result.code, 0, result.stderr);
        const [keyPem] = pemBlocks(result.stdout, 'PRIVATE KEY');
        assert.ok(keyPem, result.stdout);
        assert.deepEqual(pemToDer(keyPem), Buffer.from(chain.privateKeyPkcs8Der));
        const keyFile = files.path(`${algorithm}-key.pem`);
        const leafFile = files.path(`${algorithm}-leaf.pem`);
        await writeFile(keyFile, keyPem);
        await writeFile(leafFile, new X509Certificate(chain.leafDer).toString());
        const fromKey = await openssl(['pkey', '-in', keyFile, '-pubout']);
        const fromLeaf = await openssl(['x509', '-in', leafFile, '-pubkey', '-noout']);
        assert.equal(fromKey.code, 0, fromKey.stderr);
        assert.equal(fromLeaf.code, 0, fromLeaf.stderr);
        assert.match(fromKey.stdout, /BEGIN PUBLIC KEY/);
        assert.equal(fromKey.stdout, fromLeaf.stdout);
      });

      it('is refused by OpenSSL with a wrong password (MAC verify error)', async () => {
        const result = await openssl(['pkcs12', '-in', p12File, '-passin', 'pass:not the password', '-nodes', '-info']);
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /Mac verify error/);
        assert.doesNotMatch(result.stdout, /PRIVATE KEY/);
      });

      it('loads into a Node TLS context with the password, and not with a wrong one', () => {
        assert.doesNotThrow(() => createSecureContext({ pfx: Buffer.from(p12), passphrase: PASSWORD }));
        assert.throws(() => createSecureContext({ pfx: Buffer.from(p12), passphrase: 'not the password' }), /mac verify failure/i);
      });
    });
  }

  describe('edge cases', () => {
    let chain: Chain;
    before(async () => {
      chain = await buildChain('ecdsa-p256');
    });

    it(`uses ${PKCS12_DEFAULT_ITERATIONS} iterations by default, which OpenSSL and Node accept`, async () => {
      const p12 = bundle(chain, { iterations: undefined });
      const file = await writeBundle('default-iterations.p12', p12);
      const result = await openssl(['pkcs12', '-in', file, '-passin', `pass:${PASSWORD}`, '-nodes', '-info', '-noout']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, new RegExp(`MAC: sha256, Iteration ${PKCS12_DEFAULT_ITERATIONS}\\b`));
      assert.equal(result.stderr.split(`AES-256-CBC, Iteration ${PKCS12_DEFAULT_ITERATIONS}, PRF hmacWithSHA256`).length - 1, 2);
      assert.doesNotThrow(() => createSecureContext({ pfx: Buffer.from(p12), passphrase: PASSWORD }));
    });

    it('encodes a non-ASCII password (including a character outside the BMP) as OpenSSL and Node expect', async () => {
      const password = 'pässwörd-密码-🔐';
      const p12 = bundle(chain, { password });
      const file = await writeBundle('unicode.p12', p12);
      const result = await openssl(['pkcs12', '-in', file, '-passin', `pass:${password}`, '-nodes', '-info']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(pemBlocks(result.stdout, 'PRIVATE KEY').length, 1);
      assert.doesNotThrow(() => createSecureContext({ pfx: Buffer.from(p12), passphrase: password }));
    });

    it('omits friendlyName when none is given, and bundles a leaf with no chain', async () => {
      const p12 = bundle(chain, { friendlyName: undefined, chainDer: [] });
      const file = await writeBundle('bare.p12', p12);
      const result = await openssl(['pkcs12', '-in', file, '-passin', `pass:${PASSWORD}`, '-nodes']);
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(result.stdout, /friendlyName/);
      assert.equal(result.stdout.split('localKeyID: ').length - 1, 2);
      assert.deepEqual(pemBlocks(result.stdout, 'CERTIFICATE').map(pemToDer), [Buffer.from(chain.leafDer)]);
    });
  });
});

describe('buildPkcs12 determinism and input checks', () => {
  let chain: Chain;
  before(async () => {
    chain = await buildChain('ecdsa-p256');
  });

  it('gives identical bytes for identical inputs and randomness, and asks for 5 x 16 bytes', () => {
    const random = seededRandom('same');
    const first = bundle(chain, { random });
    const second = bundle(chain, { random: seededRandom('same') });
    assert.deepEqual(first, second);
    // Key bag salt and IV, certificate safe salt and IV, MAC salt.
    assert.deepEqual(random.requests, [16, 16, 16, 16, 16]);
  });

  it('gives different bytes for different randomness', () => {
    const first = bundle(chain, { random: seededRandom('one') });
    const second = bundle(chain, { random: seededRandom('two') });
    assert.notDeepEqual(first, second);
  });

  const badPasswords: { name: string; password: string }[] = [
    { name: 'empty', password: '' },
    { name: 'containing NUL', password: 'a\u0000b' },
    { name: 'with an unpaired surrogate', password: 'a\uD800b' },
  ];
  for (const { name, password } of badPasswords) {
    it(`refuses a password ${name} with a bad_request DomainError`, () => {
      assert.throws(
        () => bundle(chain, { password }),
        (error: unknown) => error instanceof DomainError && error.kind === 'bad_request',
      );
    });
  }

  it('refuses a private key that is not the leaf key', async () => {
    const other = await buildChain('ecdsa-p256');
    assert.throws(() => bundle(chain, { privateKeyPkcs8Der: other.privateKeyPkcs8Der }), /does not match the certificate/);
  });

  it('refuses a chain entry that is not a certificate', () => {
    assert.throws(() => bundle(chain, { chainDer: [Uint8Array.of(0x30, 0x00)] }), /chain certificate 1 is not a DER X\.509 certificate/);
  });

  for (const iterations of [0, -1, 1.5, Number.NaN]) {
    it(`refuses an iteration count of ${iterations}`, () => {
      assert.throws(() => bundle(chain, { iterations }), RangeError);
    });
  }

  it('refuses a random source that returns the wrong number of bytes', () => {
    assert.throws(() => bundle(chain, { random: { bytes: () => new Uint8Array(8) } }), /random source returned 8 bytes/);
  });
});
