// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import { createHash, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import type { KeyType } from './key-type.ts';

export interface KeyAndCsr {
  /** PKCS#8 PEM of the new private key: write it with mode 0600, never send it anywhere. */
  privateKeyPem: string;
  /** PEM PKCS#10 request, signed with the new key. */
  csrPem: string;
  /** SHA-256 (hex) of the DER SubjectPublicKeyInfo, as the inventory records it (`spkiSha256`). */
  spkiSha256: string;
}

export interface CsrSubject {
  /** Subject CN; Trustroot keeps it only when it is also one of the SANs. */
  commonName?: string;
  /** DNS names, IP addresses and URIs (anything with a scheme, e.g. SPIFFE IDs). */
  sans: string[];
}

// Node's WebCrypto, typed as the DOM `Crypto` @peculiar/x509 expects.
const crypto = webcrypto as unknown as Crypto;

const RSA_PUBLIC_EXPONENT = new Uint8Array([1, 0, 1]);

function algorithms(keyType: KeyType): { generate: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm; sign: EcdsaParams | Algorithm } {
  switch (keyType) {
    case 'p256':
      return { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams };
    case 'p384':
      return { generate: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams };
    case 'ed25519':
      return { generate: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      return {
        generate: { name: 'RSASSA-PKCS1-v1_5', modulusLength: Number(keyType.slice(3)), publicExponent: RSA_PUBLIC_EXPONENT, hash: 'SHA-256' },
        sign: { name: 'RSASSA-PKCS1-v1_5' },
      };
  }
}

/** Sorts names the way Trustroot does: IP literals, URIs (a scheme), else DNS names. */
function generalName(name: string): x509.JsonGeneralName {
  if (isIP(name) !== 0) return { type: 'ip', value: name };
  if (/^[a-z][a-z0-9+.-]*:/i.test(name)) return { type: 'url', value: name };
  return { type: 'dns', value: name };
}

/** Escapes a CN for the RFC 4514 string @peculiar/x509 parses. */
function escapeDnValue(value: string): string {
  return value.replace(/([,+"\\<>;=#])/g, '\\$1').replace(/^ | $/g, '\\ ');
}

/**
 * Generates a key pair locally with Node's WebCrypto and a PKCS#10 request for it carrying the
 * names as a subjectAltName extension. The private key exists only in the returned PEM: the
 * caller decides where it is stored, and it never leaves the host.
 */
export async function generateKeyAndCsr(keyType: KeyType, subject: CsrSubject): Promise<KeyAndCsr> {
  if (subject.sans.length === 0) throw new RangeError('a certificate request needs at least one name');
  const keys = (await crypto.subtle.generateKey(algorithms(keyType).generate, true, ['sign', 'verify'])) as CryptoKeyPair;
  return csrFor(keys, keyType, subject);
}

/**
 * A new PKCS#10 request for a key this host already holds (PKCS#8 PEM), e.g. to retry a
 * re-keying renewal whose answer was lost with the same key.
 */
export async function csrForKey(privateKeyPem: string, keyType: KeyType, subject: CsrSubject): Promise<KeyAndCsr> {
  if (subject.sans.length === 0) throw new RangeError('a certificate request needs at least one name');
  const { generate } = algorithms(keyType);
  const privateKey = createPrivateKey(privateKeyPem);
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const keys: CryptoKeyPair = {
    privateKey: await crypto.subtle.importKey('pkcs8', pkcs8, generate, true, ['sign']),
    publicKey: await crypto.subtle.importKey('spki', spki, generate, true, ['verify']),
  };
  return csrFor(keys, keyType, subject);
}

async function csrFor(keys: CryptoKeyPair, keyType: KeyType, subject: CsrSubject): Promise<KeyAndCsr> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      ...(subject.commonName ? { name: `CN=${escapeDnValue(subject.commonName)}` } : {}),
      keys,
      signingAlgorithm: algorithms(keyType).sign,
      extensions: [new x509.SubjectAlternativeNameExtension(subject.sans.map(generalName))],
    },
    crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  const spki = Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey));
  return {
    privateKeyPem: `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY').trim()}\n`,
    csrPem: `${csr.toString('pem').trim()}\n`,
    spkiSha256: createHash('sha256').update(spki).digest('hex'),
  };
}
