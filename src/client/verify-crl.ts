// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { TrustrootError } from './trustroot-errors.ts';

/** What a verified CRL says. */
export interface VerifiedCrl {
  der: Buffer;
  pem: string;
  /** The issuer's distinguished name (RFC 4514). */
  issuer: string;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** The CRL number (decimal), when present; strictly increasing per issuer. */
  crlNumber: string | undefined;
  /** Revoked serials, lower-case hex without leading zeros (as Trustroot writes serials). */
  revokedSerials: string[];
}

const OID_CRL_NUMBER = '2.5.29.20';
const crypto = webcrypto as unknown as Crypto;

/**
 * Parses a DER CRL and checks that `issuerCertificatePem` signed it and is named as its issuer.
 * CRLs travel over plain HTTP, so this signature — not the transport — is what makes one
 * trustworthy. Throws a `TrustrootError` when either check fails.
 */
export async function verifyCrl(der: Uint8Array, issuerCertificatePem: string): Promise<VerifiedCrl> {
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(new Uint8Array(der));
  } catch (error) {
    throw new TrustrootError('the CRL is not a valid DER CertificateList', { cause: error });
  }
  const issuer = new x509.X509Certificate(issuerCertificatePem);
  if (crl.issuerName.toString() !== issuer.subjectName.toString()) {
    throw new TrustrootError(`the CRL is issued by "${crl.issuer}", not by "${issuer.subject}"`);
  }
  if (!(await crl.verify({ publicKey: issuer }, crypto))) {
    throw new TrustrootError(`the CRL's signature does not verify with the key of "${issuer.subject}"`);
  }
  const numberExtension = crl.extensions.find((extension) => extension.type === OID_CRL_NUMBER);
  const crlNumber = numberExtension ? String(AsnConvert.parse(numberExtension.value, CRLNumber).value) : undefined;
  return {
    der: Buffer.from(der),
    pem: `${x509.PemConverter.encode(new Uint8Array(der).buffer, 'X509 CRL').trim()}\n`,
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    crlNumber,
    revokedSerials: crl.entries.map((entry) => entry.serialNumber.toLowerCase().replace(/^0+(?=.)/, '')),
  };
}
