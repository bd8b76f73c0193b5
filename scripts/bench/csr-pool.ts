import { webcrypto } from 'node:crypto';
import { x509 } from '../../src/domain/x509/crypto-provider.ts';

const crypto = webcrypto as unknown as Crypto;
const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** How many CSRs share one key: keys are cheap, but this keeps preparation well under a second per thousand. */
const CSRS_PER_KEY = 8;

/**
 * P-256 PKCS#10 requests (PEM) for the given DNS names — CN and one DNS SAN each — made with
 * `@peculiar/x509`'s Pkcs10CertificateRequestGenerator and Node's WebCrypto keys, as a service
 * would make them at boot. Every `CSRS_PER_KEY` requests share a key (Trustroot allows a key
 * in several certificates; only blocked keys are refused). Built before any timed part.
 */
export async function makeCsrs(dnsNames: string[]): Promise<string[]> {
  const csrs: string[] = [];
  let keys: CryptoKeyPair | undefined;
  for (const [index, name] of dnsNames.entries()) {
    if (keys === undefined || index % CSRS_PER_KEY === 0) keys = (await crypto.subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create(
      { name: `CN=${name}`, keys, signingAlgorithm: ECDSA_SHA256, extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: name }])] },
      crypto,
    );
    csrs.push(csr.toString('pem'));
  }
  return csrs;
}
