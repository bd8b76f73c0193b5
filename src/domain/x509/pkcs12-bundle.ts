import { createCipheriv, createHash, createHmac, createPrivateKey, pbkdf2Sync, X509Certificate } from 'node:crypto';
import { ContentEncryptionAlgorithmIdentifier, ContentInfo, EncryptedContent, EncryptedContentInfo, id_data, id_encryptedData } from '@peculiar/asn1-cms';
import {
  AuthenticatedSafe,
  CertBag,
  id_certBag,
  id_pkcs8ShroudedKeyBag,
  id_x509Certificate,
  MacData,
  PFX,
  PKCS12Attribute,
  PKCS8ShroudedKeyBag,
  SafeBag,
  SafeContents,
} from '@peculiar/asn1-pfx';
import { EncryptedData as EncryptedKeyData } from '@peculiar/asn1-pkcs8';
import { FriendlyName, id_pkcs9_at_friendlyName, id_pkcs9_at_localKeyId, LocalKeyId } from '@peculiar/asn1-pkcs9';
import { DigestInfo, id_sha256 } from '@peculiar/asn1-rsa';
import { AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { RandomSource } from '../clock.ts';
import { DomainError } from '../errors.ts';

/**
 * Default PBKDF2-HMAC-SHA256 iteration count: OWASP's Password Storage Cheat Sheet figure for
 * PBKDF2-HMAC-SHA256 (600,000, 2023). The same count is used for the MAC key so that the MAC is
 * not a cheaper password-guessing oracle than the encrypted bags. Cost on one core: about 0.15 s
 * per PBKDF2 derivation (two per bundle) plus about 0.9 s for the RFC 7292 MAC derivation, which
 * node:crypto can only run as a loop of single hashes. The call is synchronous, so a busy server
 * should run it off the request thread.
 */
export const PKCS12_DEFAULT_ITERATIONS = 600_000;

/** Salt length for every derivation, in bytes (NIST SP 800-132 asks for at least 128 bits). */
const SALT_LENGTH = 16;
/** AES-256-CBC key and IV lengths, in bytes. */
const AES_256_KEY_LENGTH = 32;
const AES_CBC_IV_LENGTH = 16;
/** SHA-256 output (u) and block (v) sizes, in bytes, as RFC 7292 appendix B.2 names them. */
const SHA256_OUTPUT_LENGTH = 32;
const SHA256_BLOCK_LENGTH = 64;
/** RFC 7292 appendix B.3: ID byte 3 derives MAC keys. */
const PKCS12_KDF_MAC_ID = 3;

// No @peculiar package declares these OIDs.
/** PKCS #5 v2.1 (RFC 8018) PBES2 and PBKDF2. */
const id_PBES2 = '1.2.840.113549.1.5.13';
const id_PBKDF2 = '1.2.840.113549.1.5.12';
/** RFC 8018 appendix B.1.2. */
const id_hmacWithSHA256 = '1.2.840.113549.2.9';
/** NIST CSOR aes256-CBC (RFC 3565). */
const id_aes256_CBC = '2.16.840.1.101.3.4.1.42';

/**
 * Builds a PKCS#12 (RFC 7292) file holding one private key and its certificate chain, protected
 * with `password`.
 *
 * Layout (the one `openssl pkcs12 -export` writes, so every consumer knows it): an authenticated
 * safe of two contents, first an EncryptedData holding one certBag per certificate (leaf first,
 * then `chainDer` in order), then a Data holding one pkcs8ShroudedKeyBag. Both the key bag and the
 * certificate safe use PBES2 with PBKDF2-HMAC-SHA256 (a fresh 16-byte salt each, `iterations`
 * rounds) and AES-256-CBC (a fresh IV each). Integrity is an HMAC-SHA256 over the authenticated
 * safe, keyed per RFC 7292 appendix B (ID 3, SHA-256, 32-byte key, its own 16-byte salt, the same
 * `iterations`), which OpenSSL 3 and Node verify. The key bag and the leaf's certBag carry
 * localKeyId = SHA-1 of the leaf certificate's DER (what OpenSSL uses to pair them) and, when
 * given, friendlyName.
 *
 * The password is used as given (no Unicode normalisation): its UTF-8 bytes for PBKDF2 and its
 * UTF-16BE form plus a two-byte terminator for the MAC, as OpenSSL 3 does.
 *
 * `random` supplies every salt and IV, in a fixed order, so equal inputs and an equal byte
 * stream give byte-identical output.
 *
 * @param params.iterations PBKDF2 and MAC rounds; defaults to {@link PKCS12_DEFAULT_ITERATIONS}.
 *   Lower only in tests.
 * @returns the DER-encoded PFX.
 * @throws DomainError `bad_request` when the password is empty or cannot be encoded identically
 *   as UTF-8 and UTF-16 (NUL or an unpaired surrogate); Error when the private key does not match
 *   the leaf certificate or an input does not parse.
 */
export function buildPkcs12(params: {
  privateKeyPkcs8Der: Uint8Array;
  certificateDer: Uint8Array;
  chainDer: Uint8Array[];
  password: string;
  friendlyName?: string;
  random: RandomSource;
  iterations?: number;
}): Uint8Array {
  const iterations = params.iterations ?? PKCS12_DEFAULT_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError('PKCS#12 iteration count must be a positive integer');
  }
  checkPassword(params.password);
  // Refuse a bundle that could never be used for TLS: a key that is not the leaf's.
  const leaf = parseCertificate(params.certificateDer, 'the certificate');
  const privateKey = createPrivateKey({ key: Buffer.from(params.privateKeyPkcs8Der), format: 'der', type: 'pkcs8' });
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new Error('the private key does not match the certificate');
  }
  // Parsed only to fail here rather than in the consumer: a bag of garbage would still build.
  params.chainDer.forEach((der, index) => parseCertificate(der, `chain certificate ${index + 1}`));

  const localKeyId = createHash('sha1').update(params.certificateDer).digest();
  const leafAttributes = bagAttributes(localKeyId, params.friendlyName);

  const keyBag = new SafeBag({
    bagId: id_pkcs8ShroudedKeyBag,
    bagValue: AsnConvert.serialize(
      new PKCS8ShroudedKeyBag(encryptPbes2(params.privateKeyPkcs8Der, params.password, iterations, params.random)),
    ),
    bagAttributes: leafAttributes,
  });
  const certBags = [params.certificateDer, ...params.chainDer].map(
    (der, index) =>
      new SafeBag({
        bagId: id_certBag,
        bagValue: AsnConvert.serialize(
          new CertBag({ certId: id_x509Certificate, certValue: AsnConvert.serialize(new OctetString(der)) }),
        ),
        // Only the leaf pairs with the key; chain certificates carry no attributes.
        ...(index === 0 ? { bagAttributes: leafAttributes } : {}),
      }),
  );

  // The certificate safe is encrypted too, so that the bundle does not reveal which service
  // names it holds to anyone without the password.
  const certSafeDer = new Uint8Array(AsnConvert.serialize(new SafeContents(certBags)));
  const certSafe = encryptPbes2(certSafeDer, params.password, iterations, params.random);
  const encryptedCerts = new Pkcs7EncryptedData({
    encryptedContentInfo: new EncryptedContentInfo({
      contentType: id_data,
      contentEncryptionAlgorithm: new ContentEncryptionAlgorithmIdentifier(certSafe.encryptionAlgorithm),
      encryptedContent: new EncryptedContent({ value: new OctetString(certSafe.encryptedData) }),
    }),
  });
  const keySafeDer = AsnConvert.serialize(new SafeContents([keyBag]));

  const authSafeDer = new Uint8Array(
    AsnConvert.serialize(
      new AuthenticatedSafe([
        new ContentInfo({ contentType: id_encryptedData, content: AsnConvert.serialize(encryptedCerts) }),
        new ContentInfo({ contentType: id_data, content: AsnConvert.serialize(new OctetString(keySafeDer)) }),
      ]),
    ),
  );

  // The MAC covers the exact bytes placed in authSafe's OCTET STRING, so it is computed over the
  // encoding that is then embedded unchanged.
  const macSalt = randomBytesOf(params.random, SALT_LENGTH);
  const macKey = deriveRfc7292MacKey(params.password, macSalt, iterations);
  const mac = createHmac('sha256', macKey).update(authSafeDer).digest();
  macKey.fill(0);

  const pfx = new PFX({
    version: 3,
    authSafe: new ContentInfo({ contentType: id_data, content: AsnConvert.serialize(new OctetString(authSafeDer)) }),
    macData: new MacData({
      mac: new DigestInfo({
        digestAlgorithm: new AlgorithmIdentifier({ algorithm: id_sha256, parameters: null }),
        digest: new OctetString(mac),
      }),
      macSalt: new OctetString(macSalt),
      iterations,
    }),
  });
  return new Uint8Array(AsnConvert.serialize(pfx));
}

/**
 * The password is fed to PBKDF2 as UTF-8 and to the MAC derivation as UTF-16; a NUL would end
 * OpenSSL's C string early and an unpaired surrogate has no UTF-8 form, so either would make a
 * bundle that no consumer can open.
 */
function checkPassword(password: string): void {
  if (password.length === 0) {
    throw new DomainError('bad_request', 'the PKCS#12 password must not be empty');
  }
  if (password.includes('\u0000') || Buffer.from(password, 'utf8').toString('utf8') !== password) {
    throw new DomainError('bad_request', 'the PKCS#12 password must be valid Unicode text without NUL characters');
  }
}

function parseCertificate(der: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (error) {
    throw new Error(`${what} is not a DER X.509 certificate`, { cause: error });
  }
}

/** localKeyId always, friendlyName when given, in DER SET OF order. */
function bagAttributes(localKeyId: Uint8Array, friendlyName: string | undefined): PKCS12Attribute[] {
  const attributes = [pkcs12Attribute(id_pkcs9_at_localKeyId, AsnConvert.serialize(new LocalKeyId(localKeyId)))];
  if (friendlyName !== undefined) {
    attributes.push(pkcs12Attribute(id_pkcs9_at_friendlyName, AsnConvert.serialize(new FriendlyName(friendlyName))));
  }
  // DER sorts SET OF members by their encodings; the serializer keeps array order.
  return attributes
    .map((attribute) => ({ attribute, der: Buffer.from(AsnConvert.serialize(attribute)) }))
    .sort((a, b) => Buffer.compare(a.der, b.der))
    .map(({ attribute }) => attribute);
}

function pkcs12Attribute(attrId: string, valueDer: ArrayBuffer): PKCS12Attribute {
  // PKCS12Attribute's constructor (asn1-pfx 2.11.1) drops its params, so set the fields here.
  const attribute = new PKCS12Attribute();
  attribute.attrId = attrId;
  attribute.attrValues = [valueDer];
  return attribute;
}

/**
 * PBES2 (RFC 8018 section 6.2) with PBKDF2-HMAC-SHA256 and AES-256-CBC (PKCS#7 padding). Draws
 * the salt, then the IV, from `random`.
 */
function encryptPbes2(
  plaintext: Uint8Array,
  password: string,
  iterations: number,
  random: RandomSource,
): { encryptionAlgorithm: AlgorithmIdentifier; encryptedData: EncryptedKeyData } {
  const salt = randomBytesOf(random, SALT_LENGTH);
  const iv = randomBytesOf(random, AES_CBC_IV_LENGTH);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, AES_256_KEY_LENGTH, 'sha256');
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  key.fill(0);

  const kdfParams = new Pbkdf2Params({
    salt: new OctetString(salt),
    iterationCount: iterations,
    // keyLength is left out, as OpenSSL does: AES-256 fixes it.
    prf: new AlgorithmIdentifier({ algorithm: id_hmacWithSHA256, parameters: null }),
  });
  const pbes2Params = new Pbes2Params({
    keyDerivationFunc: new AlgorithmIdentifier({ algorithm: id_PBKDF2, parameters: AsnConvert.serialize(kdfParams) }),
    encryptionScheme: new AlgorithmIdentifier({
      algorithm: id_aes256_CBC,
      parameters: AsnConvert.serialize(new OctetString(iv)),
    }),
  });
  return {
    encryptionAlgorithm: new AlgorithmIdentifier({ algorithm: id_PBES2, parameters: AsnConvert.serialize(pbes2Params) }),
    encryptedData: new EncryptedKeyData(ciphertext),
  };
}

/**
 * RFC 7292 appendix B.2 key derivation with ID 3 (MAC), SHA-256 and a 32-byte key. The key
 * length equals SHA-256's output length, so one block A_1 = H^iterations(D || I) is the whole key
 * and the I-update step of B.2 item 6(C) is never reached.
 */
function deriveRfc7292MacKey(password: string, salt: Uint8Array, iterations: number): Buffer {
  const v = SHA256_BLOCK_LENGTH;
  // BMPString with a two-byte NUL terminator (B.1). JavaScript strings are UTF-16 already;
  // characters outside the BMP become surrogate pairs, as OpenSSL's OPENSSL_utf82uni does.
  const passwordBytes = Buffer.from(`${password}\u0000`, 'utf16le').swap16();
  const diversifier = Buffer.alloc(v, PKCS12_KDF_MAC_ID);
  const input = Buffer.concat([diversifier, repeatToBlocks(salt, v), repeatToBlocks(passwordBytes, v)]);
  let digest = createHash('sha256').update(input).digest();
  for (let round = 1; round < iterations; round++) {
    digest = createHash('sha256').update(digest).digest();
  }
  return digest.subarray(0, SHA256_OUTPUT_LENGTH);
}

/** Concatenates copies of `bytes` up to the next multiple of `blockLength` (B.2 steps 2 and 3). */
function repeatToBlocks(bytes: Uint8Array, blockLength: number): Buffer {
  const length = blockLength * Math.ceil(bytes.length / blockLength);
  const out = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += bytes.length) out.set(bytes.subarray(0, length - offset), offset);
  return out;
}

function randomBytesOf(random: RandomSource, length: number): Uint8Array {
  const bytes = random.bytes(length);
  if (bytes.length !== length) throw new Error(`random source returned ${bytes.length} bytes, expected ${length}`);
  return bytes;
}

// ASN.1 types no @peculiar package provides. They are declared with asn1-schema's own decorator
// functions, applied by hand because the project compiles standard (not legacy) decorators.

/**
 * PBKDF2-params (RFC 8018 appendix A.2), with the salt always `specified`:
 * SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL,
 * prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }
 */
class Pbkdf2Params {
  salt = new OctetString();
  iterationCount = 0;
  prf = new AlgorithmIdentifier();
  constructor(params: Partial<Pbkdf2Params> = {}) {
    Object.assign(this, params);
  }
}
AsnType({ type: AsnTypeTypes.Sequence })(Pbkdf2Params);
AsnProp({ type: OctetString })(Pbkdf2Params.prototype, 'salt');
AsnProp({ type: AsnPropTypes.Integer })(Pbkdf2Params.prototype, 'iterationCount');
AsnProp({ type: AlgorithmIdentifier })(Pbkdf2Params.prototype, 'prf');

/** PBES2-params (RFC 8018 appendix A.4): SEQUENCE { keyDerivationFunc, encryptionScheme }. */
class Pbes2Params {
  keyDerivationFunc = new AlgorithmIdentifier();
  encryptionScheme = new AlgorithmIdentifier();
  constructor(params: Partial<Pbes2Params> = {}) {
    Object.assign(this, params);
  }
}
AsnType({ type: AsnTypeTypes.Sequence })(Pbes2Params);
AsnProp({ type: AlgorithmIdentifier })(Pbes2Params.prototype, 'keyDerivationFunc');
AsnProp({ type: AlgorithmIdentifier })(Pbes2Params.prototype, 'encryptionScheme');

/**
 * CMS EncryptedData (RFC 5652 section 8) without unprotectedAttrs, hence version 0:
 * SEQUENCE { version CMSVersion, encryptedContentInfo EncryptedContentInfo }
 */
class Pkcs7EncryptedData {
  version = 0;
  encryptedContentInfo = new EncryptedContentInfo();
  constructor(params: Partial<Pkcs7EncryptedData> = {}) {
    Object.assign(this, params);
  }
}
AsnType({ type: AsnTypeTypes.Sequence })(Pkcs7EncryptedData);
AsnProp({ type: AsnPropTypes.Integer })(Pkcs7EncryptedData.prototype, 'version');
AsnProp({ type: EncryptedContentInfo })(Pkcs7EncryptedData.prototype, 'encryptedContentInfo');
