import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeCsr, parseCsr, type ParsedCsr } from '../../../../src/domain/csr/parse-csr.ts';
import { DomainError, type DomainErrorKind } from '../../../../src/domain/errors.ts';
import type { KeyAlgorithmName } from '../../../../src/domain/key-algorithm.ts';
import { x509 } from '../../../../src/domain/x509/crypto-provider.ts';
import { openssl, pemFiles } from '../../../support/openssl.ts';

// ---------------------------------------------------------------------------------------------
// CSR factories: WebCrypto keys through @peculiar/x509, and the real openssl binary.

type WebKeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-2048';

const WEB_KEYS: Record<WebKeyAlgorithm, { keyParams: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm; signing: Algorithm | EcdsaParams }> = {
  'ecdsa-p256': { keyParams: { name: 'ECDSA', namedCurve: 'P-256' }, signing: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams },
  'ecdsa-p384': { keyParams: { name: 'ECDSA', namedCurve: 'P-384' }, signing: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams },
  ed25519: { keyParams: { name: 'Ed25519' }, signing: { name: 'Ed25519' } },
  'rsa-2048': {
    keyParams: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    signing: { name: 'RSASSA-PKCS1-v1_5' },
  },
};

const keyCache = new Map<WebKeyAlgorithm, CryptoKeyPair>();

async function webKeys(algorithm: WebKeyAlgorithm): Promise<CryptoKeyPair> {
  const cached = keyCache.get(algorithm);
  if (cached) return cached;
  const keys = (await webcrypto.subtle.generateKey(WEB_KEYS[algorithm].keyParams, true, ['sign', 'verify'])) as CryptoKeyPair;
  keyCache.set(algorithm, keys);
  return keys;
}

interface WebCsrOptions {
  name?: string;
  extensions?: x509.Extension[];
  attributes?: x509.Attribute[];
}

async function webCsr(algorithm: WebKeyAlgorithm, options: WebCsrOptions = {}): Promise<{ pem: string; keys: CryptoKeyPair }> {
  const keys = await webKeys(algorithm);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: options.name ?? 'CN=api.example.internal',
    keys,
    signingAlgorithm: WEB_KEYS[algorithm].signing,
    extensions: options.extensions,
    attributes: options.attributes,
  });
  return { pem: csr.toString('pem'), keys };
}

async function opensslCsr(args: string[]): Promise<string> {
  const result = await openssl(['req', '-new', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=openssl.example.internal', ...args]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

async function spkiSha256FromOpenssl(pem: string): Promise<string> {
  const result = await openssl(['req', '-pubkey', '-noout'], pem);
  assert.equal(result.code, 0, result.stderr);
  const base64 = result.stdout.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex');
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function derToPem(der: Uint8Array, label = 'CERTIFICATE REQUEST'): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

async function assertRefused(input: string, kind: DomainErrorKind, detail: RegExp): Promise<void> {
  await assert.rejects(parseCsr(input), (error: unknown) => {
    assert.ok(error instanceof DomainError, `expected a DomainError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.detail);
    assert.match(error.detail, detail);
    return true;
  });
}

const NO_SANS = { dnsNames: [], ipAddresses: [], uris: [] };

// ---------------------------------------------------------------------------------------------

describe('parseCsr accepts supported keys', () => {
  const rows: { algorithm: WebKeyAlgorithm }[] = [
    { algorithm: 'ecdsa-p256' },
    { algorithm: 'ecdsa-p384' },
    { algorithm: 'ed25519' },
    { algorithm: 'rsa-2048' },
  ];
  for (const { algorithm } of rows) {
    it(`reads a WebCrypto ${algorithm} CSR`, async () => {
      const { pem, keys } = await webCsr(algorithm);
      const parsed = await parseCsr(pem);
      const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', keys.publicKey));
      assert.equal(parsed.keyAlgorithm, algorithm);
      assert.equal(parsed.spkiSha256, createHash('sha256').update(spki).digest('hex'));
      assert.equal(parsed.spkiSha256, await spkiSha256FromOpenssl(pem));
      assert.deepEqual(new Uint8Array(parsed.publicKey.rawData), spki);
      assert.equal(parsed.commonName, 'api.example.internal');
      assert.deepEqual(parsed.sans, NO_SANS);
    });
  }

  const opensslRows: { name: string; args: string[]; keyAlgorithm: KeyAlgorithmName }[] = [
    { name: 'P-256', args: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], keyAlgorithm: 'ecdsa-p256' },
    { name: 'P-384 signed with SHA-384', args: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-sha384'], keyAlgorithm: 'ecdsa-p384' },
    { name: 'Ed25519', args: ['-newkey', 'ed25519'], keyAlgorithm: 'ed25519' },
    { name: 'RSA 3072', args: ['-newkey', 'rsa:3072'], keyAlgorithm: 'rsa-3072' },
    { name: 'RSA 2048 signed with RSA-PSS', args: ['-newkey', 'rsa:2048', '-sigopt', 'rsa_padding_mode:pss'], keyAlgorithm: 'rsa-2048' },
  ];
  for (const { name, args, keyAlgorithm } of opensslRows) {
    it(`reads an openssl ${name} CSR`, async () => {
      const pem = await opensslCsr(args);
      const parsed = await parseCsr(pem);
      assert.equal(parsed.keyAlgorithm, keyAlgorithm);
      assert.equal(parsed.spkiSha256, await spkiSha256FromOpenssl(pem));
      assert.equal(parsed.commonName, 'openssl.example.internal');
    });
  }

  it('reads the requested DNS, IP and URI names in order (openssl -addext)', async () => {
    const pem = await opensslCsr([
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
      '-addext', 'subjectAltName=DNS:b.example.internal,IP:10.1.2.3,URI:spiffe://kyc.internal/ns/prod/sa/api,DNS:a.example.internal,IP:2001:db8::7',
      '-addext', 'keyUsage=critical,digitalSignature',
      '-addext', 'basicConstraints=critical,CA:FALSE',
      '-addext', 'extendedKeyUsage=serverAuth',
    ]);
    const parsed = await parseCsr(pem);
    assert.deepEqual(parsed.sans, {
      dnsNames: ['b.example.internal', 'a.example.internal'],
      ipAddresses: ['10.1.2.3', '2001:db8::7'],
      uris: ['spiffe://kyc.internal/ns/prod/sa/api'],
    });
  });

  it('reads SANs from a WebCrypto CSR and returns names as requested (syntax is checked later)', async () => {
    const { pem } = await webCsr('ecdsa-p256', {
      name: '',
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'Upper.Example.Internal' },
          { type: 'ip', value: '2001:DB8:0:0:0:0:0:1' },
          { type: 'url', value: 'https://api.example.internal/x' },
        ]),
      ],
    });
    const parsed = await parseCsr(pem);
    assert.equal(parsed.commonName, undefined);
    assert.deepEqual(parsed.sans, {
      dnsNames: ['Upper.Example.Internal'],
      ipAddresses: ['2001:db8::1'],
      uris: ['https://api.example.internal/x'],
    });
  });

  it('accepts the legacy NEW CERTIFICATE REQUEST label, CRLF line ends and surrounding whitespace', async () => {
    const { pem } = await webCsr('ecdsa-p256');
    const legacy = pem.replaceAll('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST');
    assert.equal((await parseCsr(legacy)).keyAlgorithm, 'ecdsa-p256');
    assert.equal((await parseCsr(`\n\n  ${pem.replace(/\n/g, '\r\n')}  \r\n`)).keyAlgorithm, 'ecdsa-p256');
  });

  it('accepts CA:FALSE and a leaf keyUsage', async () => {
    const { pem } = await webCsr('ecdsa-p256', {
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      ],
    });
    assert.equal((await parseCsr(pem)).keyAlgorithm, 'ecdsa-p256');
  });
});

describe('parseCsr refuses keys, signatures and requests it does not accept (openssl-made CSRs)', () => {
  let dsaParameters: { path: (name: string) => string; cleanup: () => Promise<void> };
  before(async () => {
    dsaParameters = await pemFiles({});
    const result = await openssl(['genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:1024', '-out', dsaParameters.path('dsa.pem')]);
    assert.equal(result.code, 0, result.stderr);
  });
  after(async () => {
    await dsaParameters.cleanup();
  });

  const rows: { name: string; args: () => string[]; kind: DomainErrorKind; detail: RegExp }[] = [
    { name: 'RSA 1024', args: () => ['-newkey', 'rsa:1024'], kind: 'invalid_csr', detail: /^RSA keys must be at least 2048 bits$/ },
    // @peculiar/x509 reports modulusLength as byte length × 8, i.e. 2048 for this key.
    { name: 'RSA 2047', args: () => ['-newkey', 'rsa:2047'], kind: 'invalid_csr', detail: /^RSA keys must be at least 2048 bits$/ },
    { name: 'RSA 2056', args: () => ['-newkey', 'rsa:2056'], kind: 'invalid_csr', detail: /unsupported RSA key size of 2056 bits/ },
    { name: 'RSA exponent 3', args: () => ['-newkey', 'rsa:2048', '-pkeyopt', 'rsa_keygen_pubexp:3'], kind: 'invalid_csr', detail: /exponent must be 65537/ },
    { name: 'RSA-PSS key', args: () => ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:2048'], kind: 'invalid_csr', detail: /unsupported key algorithm RSASSA-PSS/ },
    { name: 'P-521', args: () => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'], kind: 'invalid_csr', detail: /unsupported elliptic curve P-521/ },
    { name: 'secp256k1', args: () => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], kind: 'invalid_csr', detail: /unsupported elliptic curve secp256k1/ },
    { name: 'Ed448', args: () => ['-newkey', 'ed448'], kind: 'invalid_csr', detail: /unsupported key algorithm Ed448/ },
    { name: 'DSA', args: () => ['-newkey', `dsa:${dsaParameters.path('dsa.pem')}`], kind: 'invalid_csr', detail: /unsupported key algorithm DSA/ },
    { name: 'a SHA-1 signature', args: () => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-sha1'], kind: 'invalid_csr', detail: /signed with SHA-1/ },
    {
      name: 'basicConstraints=critical,CA:TRUE',
      args: () => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-addext', 'basicConstraints=critical,CA:TRUE'],
      kind: 'policy_violation',
      detail: /^the CSR asks for CA rights/,
    },
    {
      name: 'keyUsage=keyCertSign',
      args: () => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-addext', 'keyUsage=keyCertSign'],
      kind: 'policy_violation',
      detail: /^the CSR asks for CA rights/,
    },
    {
      name: 'keyUsage=digitalSignature,cRLSign',
      args: () => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-addext', 'keyUsage=digitalSignature,cRLSign'],
      kind: 'policy_violation',
      detail: /^the CSR asks for CA rights/,
    },
    {
      name: 'an email SAN',
      args: () => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-addext', 'subjectAltName=DNS:a.example.internal,email:ops@example.internal'],
      kind: 'policy_violation',
      detail: /email/,
    },
    {
      name: 'two CNs',
      args: () => ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', '/CN=a.example.internal/CN=b.example.internal'],
      kind: 'invalid_csr',
      detail: /more than one common name/,
    },
  ];
  for (const { name, args, kind, detail } of rows) {
    it(`refuses ${name} with ${kind}`, async () => {
      await assertRefused(await opensslCsr(args()), kind, detail);
    });
  }
});

describe('parseCsr refuses malformed input with invalid_csr', () => {
  let valid: string;
  let validDer: Buffer;
  let certificatePem: string;
  before(async () => {
    valid = (await webCsr('ecdsa-p256')).pem;
    validDer = pemToDer(valid);
    const result = await openssl(['req', '-x509', '-new', '-nodes', '-keyout', '/dev/null', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', '/CN=x', '-days', '1']);
    assert.equal(result.code, 0, result.stderr);
    certificatePem = result.stdout;
  });

  const rows: { name: string; input: () => string; detail: RegExp }[] = [
    { name: 'an empty string', input: () => '', detail: /empty/ },
    { name: 'whitespace', input: () => ' \n\t ', detail: /empty/ },
    { name: 'garbage', input: () => 'hello, I am a CSR', detail: /not PEM/ },
    { name: 'bare base64 DER', input: () => validDer.toString('base64'), detail: /not PEM/ },
    { name: 'input over 64 KiB', input: () => valid + ' '.repeat(64 * 1024), detail: /larger than 64 KiB/ },
    { name: 'a certificate PEM', input: () => certificatePem, detail: /found a "CERTIFICATE" block/ },
    { name: 'a private key PEM', input: () => derToPem(new Uint8Array([0x30, 0x00]), 'PRIVATE KEY'), detail: /found a "PRIVATE KEY" block/ },
    { name: 'two concatenated CSR blocks', input: () => valid + valid, detail: /more than one PEM block/ },
    { name: 'a CSR followed by a certificate', input: () => valid + certificatePem, detail: /more than one PEM block/ },
    { name: 'text before the block', input: () => `Certificate Request:\n${valid}`, detail: /text outside the block/ },
    { name: 'text after the block', input: () => `${valid}trailing text\n`, detail: /text outside the block/ },
    { name: 'a mismatched END label', input: () => valid.replace('END CERTIFICATE REQUEST', 'END NEW CERTIFICATE REQUEST'), detail: /mismatched END line/ },
    { name: 'a missing END line', input: () => valid.replace(/-----END CERTIFICATE REQUEST-----\n?$/, ''), detail: /missing or mismatched END line/ },
    { name: 'PEM headers', input: () => valid.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n'), detail: /headers/ },
    { name: 'truncated base64 (3 characters cut)', input: () => valid.replace(/(\n[A-Za-z0-9+/]{10})[A-Za-z0-9+/]{3}/, '$1'), detail: /base64 is malformed or truncated/ },
    { name: 'base64 with a bad character', input: () => valid.replace(/(\n[A-Za-z0-9+/]{10})[A-Za-z0-9+/]/, '$1!'), detail: /text outside the block|base64/ },
    { name: 'truncated DER (last line cut)', input: () => derToPem(validDer.subarray(0, 48)), detail: /truncated or has trailing data/ },
    { name: 'DER with trailing bytes', input: () => derToPem(Buffer.concat([validDer, Buffer.from([0x00, 0x00])])), detail: /truncated or has trailing data/ },
    { name: 'DER with a second element', input: () => derToPem(Buffer.concat([validDer, validDer])), detail: /truncated or has trailing data/ },
    { name: 'an indefinite-length SEQUENCE', input: () => derToPem(Buffer.from([0x30, 0x80, 0x00, 0x00])), detail: /truncated or has trailing data/ },
    { name: 'DER that is not a SEQUENCE', input: () => derToPem(Buffer.from([0x04, 0x02, 0x41, 0x42])), detail: /truncated or has trailing data/ },
    {
      // The lenient ASN.1 parser takes [16] for the SEQUENCE, and no signature covers this part.
      name: 'a context tag in place of the signatureAlgorithm SEQUENCE (BER, not DER)',
      input: () => {
        const der = Buffer.from(validDer);
        const ecdsaWithSha256 = Buffer.from('300a06082a8648ce3d040302', 'hex');
        const at = der.lastIndexOf(ecdsaWithSha256);
        assert.ok(at > 0);
        der[at] = 0xb0;
        return derToPem(der);
      },
      detail: /^the CSR is not DER-encoded$/,
    },
    { name: 'a SEQUENCE that is not a CSR', input: () => derToPem(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05])), detail: /not a well-formed PKCS#10/ },
  ];
  for (const { name, input, detail } of rows) {
    it(`refuses ${name}`, async () => {
      await assertRefused(input(), 'invalid_csr', detail);
    });
  }
});

describe('parseCsr verifies the signature', () => {
  const algorithms: WebKeyAlgorithm[] = ['ecdsa-p256', 'ed25519', 'rsa-2048'];
  for (const algorithm of algorithms) {
    it(`refuses a ${algorithm} CSR whose last signature byte is flipped`, async () => {
      const der = pemToDer((await webCsr(algorithm)).pem);
      der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
      await assertRefused(derToPem(der), 'invalid_csr', /^the CSR signature does not verify$/);
    });

    it(`refuses a ${algorithm} CSR whose subject was changed after signing`, async () => {
      const der = pemToDer((await webCsr(algorithm, { name: 'CN=aaaa.example.internal' })).pem);
      const at = der.indexOf(Buffer.from('aaaa'));
      assert.ok(at > 0);
      der[at] = 'b'.charCodeAt(0);
      await assertRefused(derToPem(der), 'invalid_csr', /^the CSR signature does not verify$/);
    });
  }

  it('refuses an openssl CSR whose signature byte is flipped', async () => {
    const der = pemToDer(await opensslCsr(['-newkey', 'rsa:2048']));
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x80;
    await assertRefused(derToPem(der), 'invalid_csr', /^the CSR signature does not verify$/);
  });

  it('refuses a CSR whose signature is another key\'s', async () => {
    const signed = pemToDer((await webCsr('ed25519', { name: 'CN=x' })).pem);
    const other = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const forged = pemToDer(
      (await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=x', keys: other, signingAlgorithm: { name: 'Ed25519' } })).toString('pem'),
    );
    // Same lengths (Ed25519, same subject): splice the other key's 64-byte signature in.
    forged.set(signed.subarray(signed.length - 64), forged.length - 64);
    await assertRefused(derToPem(forged), 'invalid_csr', /^the CSR signature does not verify$/);
  });
});

describe('decodeCsr (parseCsr in two steps)', () => {
  it("says the key parseCsr's answer names, for every key type, and openssl's; its check is parseCsr's answer", async () => {
    for (const algorithm of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048'] as const) {
      const { pem } = await webCsr(algorithm);
      const decoded = decodeCsr(pem);
      assert.equal(decoded.spkiSha256, (await parseCsr(pem)).spkiSha256, algorithm);
      assert.deepEqual(await decoded.check(), await parseCsr(pem));
    }
    const pem = await opensslCsr(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    assert.equal(decodeCsr(pem).spkiSha256, await spkiSha256FromOpenssl(pem));
  });

  it('names no key for what does not decode, and its check refuses it as parseCsr does', async () => {
    for (const input of ['this is not a PEM at all', derToPem(Buffer.from('not DER'))]) {
      const decoded = decodeCsr(input);
      assert.equal(decoded.spkiSha256, undefined);
      const refusal = await parseCsr(input).catch((error: unknown) => error);
      await assert.rejects(decoded.check(), (error: unknown) => {
        assert.deepEqual(error, refusal);
        return true;
      });
    }
  });

  it('is no judgement of what decodes: a bad signature names a key, and its check refuses it', async () => {
    const der = pemToDer((await webCsr('ecdsa-p256')).pem);
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    const decoded = decodeCsr(derToPem(der));
    assert.match(decoded.spkiSha256 ?? '', /^[0-9a-f]{64}$/);
    await assert.rejects(decoded.check(), (error: DomainError) => error.kind === 'invalid_csr' && /does not verify/.test(error.detail));
  });
});

describe('parseCsr reads the extensionRequest strictly', () => {
  it('refuses basicConstraints cA=TRUE from a WebCrypto CSR (policy_violation)', async () => {
    const { pem } = await webCsr('ecdsa-p256', { extensions: [new x509.BasicConstraintsExtension(true, 0, true)] });
    await assertRefused(pem, 'policy_violation', /basicConstraints cA=TRUE/);
  });

  it('refuses cRLSign from a WebCrypto CSR (policy_violation)', async () => {
    const { pem } = await webCsr('ed25519', { extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.cRLSign, true)] });
    await assertRefused(pem, 'policy_violation', /keyCertSign or cRLSign/);
  });

  it('refuses a second extensionRequest attribute that would hide CA:TRUE from @peculiar/x509', async () => {
    const { pem } = await webCsr('ecdsa-p256', {
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
      attributes: [new x509.ExtensionsAttribute([new x509.BasicConstraintsExtension(true, undefined, true)])],
    });
    await assertRefused(pem, 'invalid_csr', /more than one extensionRequest attribute/);
  });

  it('refuses an extension requested twice', async () => {
    const { pem } = await webCsr('ecdsa-p256', {
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'a.example.internal' }]), new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'b.example.internal' }])],
    });
    await assertRefused(pem, 'invalid_csr', /requests extension 2\.5\.29\.17 more than once/);
  });

  it('refuses a malformed basicConstraints value', async () => {
    const { pem } = await webCsr('ecdsa-p256', { extensions: [new x509.Extension('2.5.29.19', true, new Uint8Array([0x04, 0x00]))] });
    await assertRefused(pem, 'invalid_csr', /requested extensions are malformed/);
  });

  it('refuses an iPAddress SAN that is a CIDR range rather than an address', async () => {
    const { pem } = await webCsr('ecdsa-p256', { extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '10.0.0.0/8' }])] });
    await assertRefused(pem, 'invalid_csr', /malformed IP address/);
  });
});

describe('parseCsr never lets another error type escape', () => {
  let der: Buffer;
  before(async () => {
    der = pemToDer((await webCsr('ed25519', { extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'a.example.internal' }])] })).pem);
  });

  async function outcome(input: string): Promise<ParsedCsr | DomainError> {
    try {
      return await parseCsr(input);
    } catch (error) {
      assert.ok(error instanceof DomainError, `a non-DomainError escaped: ${String(error)}`);
      return error;
    }
  }

  it('refuses every truncation of a valid CSR', async () => {
    for (let length = 0; length < der.length; length++) {
      const result = await outcome(derToPem(der.subarray(0, length)));
      assert.ok(result instanceof DomainError && result.kind === 'invalid_csr', `length ${length} was accepted`);
    }
  });

  it('refuses every single-byte corruption of a valid CSR', async () => {
    for (let index = 0; index < der.length; index++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const corrupted = Buffer.from(der);
        corrupted[index] = (corrupted[index] ?? 0) ^ mask;
        const result = await outcome(derToPem(corrupted));
        assert.ok(result instanceof DomainError, `corrupting byte ${index} with ${mask} was accepted`);
      }
    }
  });
});
