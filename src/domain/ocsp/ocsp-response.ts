import { KeyObject, X509Certificate as NodeX509Certificate, createHash, sign, verify } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, CRLReason, Certificate, Extension } from '@peculiar/asn1-x509';
import {
  BasicOCSPResponse,
  CertID,
  CertStatus,
  KeyHash,
  Nonce,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp';
import { id_ecdsaWithSHA256, id_ecdsaWithSHA384 } from '@peculiar/asn1-ecc';
import { id_sha256WithRSAEncryption } from '@peculiar/asn1-rsa';
import { reasonCode, type RevocationReasonName } from '../crl/revocation-reason.ts';
import type { KeyAlgorithmName } from '../key-algorithm.ts';
import type { x509 } from '../x509/crypto-provider.ts';
import type { OcspCertId } from './ocsp-request.ts';

/** The status of one certificate, as the responder knows it. */
export type OcspCertStatus =
  | { kind: 'good' }
  | { kind: 'revoked'; revokedAt: Date; reason: RevocationReasonName | undefined }
  | { kind: 'unknown' };

/** The answer for one CertID of the request. */
export interface OcspSingleAnswer {
  /** Echoed byte for byte (`der`), so the client matches the answer to its question. */
  certId: OcspCertId;
  status: OcspCertStatus;
  /** When the status was known to be correct; whole seconds are kept. */
  thisUpdate: Date;
  /** When newer information will be available; not before thisUpdate; whole seconds are kept. */
  nextUpdate: Date;
}

/** Who signs responses: the issuing CA itself or a delegated responder (id-kp-OCSPSigning). */
export interface OcspResponder {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
  keyAlgorithm: KeyAlgorithmName;
  /** certificates to include (e.g. a delegated responder cert); [] when the issuer signs */
  includeCertificates: x509.X509Certificate[];
}

/** Ed25519, RFC 8410 section 3 (no ASN.1 package exports it); parameters are absent. */
const ID_ED25519 = '1.3.101.112';

interface SignatureScheme {
  /** Node's digest name, or null where the algorithm hashes internally (Ed25519). */
  digest: string | null;
  algorithm: () => AlgorithmIdentifier;
}

/**
 * One signature algorithm per key algorithm, hash included, as the certificates are signed.
 * The OIDs come from the `id_*` constants: @peculiar/asn1-rsa 2.11.1's prebuilt
 * `sha256WithRSAEncryption` AlgorithmIdentifier carries the sha512-256WithRSAEncryption OID.
 */
const SIGNATURE_SCHEMES: Readonly<Record<KeyAlgorithmName, SignatureScheme>> = {
  'ecdsa-p256': { digest: 'sha256', algorithm: () => new AlgorithmIdentifier({ algorithm: id_ecdsaWithSHA256 }) },
  'ecdsa-p384': { digest: 'sha384', algorithm: () => new AlgorithmIdentifier({ algorithm: id_ecdsaWithSHA384 }) },
  ed25519: { digest: null, algorithm: () => new AlgorithmIdentifier({ algorithm: ID_ED25519 }) },
  // RFC 4055 section 5: the parameters of sha256WithRSAEncryption are NULL, not absent.
  'rsa-2048': { digest: 'sha256', algorithm: () => new AlgorithmIdentifier({ algorithm: id_sha256WithRSAEncryption, parameters: null }) },
  'rsa-3072': { digest: 'sha256', algorithm: () => new AlgorithmIdentifier({ algorithm: id_sha256WithRSAEncryption, parameters: null }) },
  'rsa-4096': { digest: 'sha256', algorithm: () => new AlgorithmIdentifier({ algorithm: id_sha256WithRSAEncryption, parameters: null }) },
};

/**
 * Builds a successful OCSPResponse (RFC 6960 section 4.2) carrying a BasicOCSPResponse: version
 * v1, responderID byKey (SHA-1 of the responder certificate's subjectPublicKey BIT STRING
 * contents), producedAt, one SingleResponse per answer in the given order, the nonce extension
 * when `nonce` is given (RFC 8954), and `includeCertificates` in `certs`. All times are
 * GeneralizedTime in whole seconds (fractions are truncated). Revoked answers carry
 * revocationTime and, except for an undefined or 'unspecified' reason (RFC 5280 section 5.3.1
 * says to omit that code), revocationReason.
 *
 * The signature is made with Node's native crypto on the responder key (DER-encoded for ECDSA)
 * off the main thread, with the algorithm matching `keyAlgorithm`; it is then verified against
 * the responder certificate before the response is returned.
 *
 * @returns the DER OCSPResponse.
 * @throws Error for no answers, invalid dates, nextUpdate before thisUpdate, a key that does not
 *   match the responder certificate, or a certificate to include that does not round-trip.
 */
export async function buildOcspResponse(params: {
  responder: OcspResponder;
  producedAt: Date;
  answers: OcspSingleAnswer[];
  nonce: Uint8Array | undefined;
}): Promise<Uint8Array> {
  const { responder, answers, nonce } = params;
  if (answers.length === 0) throw new Error('an OCSP response needs at least one answer');
  const scheme = SIGNATURE_SCHEMES[responder.keyAlgorithm];
  const { keyHash: responderKeyHash, publicKey: responderPublicKey } = responderFacts(responder.certificate);

  const responseData = new ResponseData({
    responderID: new ResponderID({ byKey: new KeyHash(responderKeyHash) }),
    producedAt: wholeSeconds(params.producedAt, 'producedAt'),
    responses: answers.map(singleResponse),
  });
  if (nonce !== undefined) {
    responseData.responseExtensions = [
      new Extension({
        extnID: id_pkix_ocsp_nonce,
        critical: false,
        extnValue: new OctetString(AsnConvert.serialize(new Nonce(nonce))),
      }),
    ];
  }
  const certs = responder.includeCertificates.map(includedCertificate);

  const tbsDer = new Uint8Array(AsnConvert.serialize(responseData));
  const signature = await signAsync(scheme.digest, tbsDer, KeyObject.from(responder.privateKey));
  const basic = new Uint8Array(
    AsnConvert.serialize(
      new BasicOCSPResponse({
        tbsResponseData: responseData,
        signatureAlgorithm: scheme.algorithm(),
        signature: copyToArrayBuffer(signature),
        ...(certs.length > 0 ? { certs } : {}),
      }),
    ),
  );

  // Verify exactly what a client will verify: the tbsResponseData bytes as re-read from the
  // encoded response (the serializer re-encodes, it does not reuse tbsDer) against the responder
  // certificate's key. This catches a private key that does not belong to the certificate and
  // faulty signatures (e.g. RSA-CRT faults, which can leak the key) before anything leaves.
  const reread = AsnConvert.parse(basic, BasicOCSPResponse);
  const signedBytes = reread.tbsResponseDataRaw;
  if (!signedBytes || !Buffer.from(signedBytes).equals(tbsDer)) {
    throw new Error('OCSP response encoding changed the signed data');
  }
  if (!(await verifyAsync(scheme.digest, tbsDer, responderPublicKey, signature))) {
    throw new Error('OCSP response signature does not verify with the responder certificate');
  }

  return new Uint8Array(
    AsnConvert.serialize(
      new OCSPResponse({
        responseStatus: OCSPResponseStatus.successful,
        responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(basic) }),
      }),
    ),
  );
}

/** What a response needs of its responder certificate, read once per certificate (it never changes). */
const responderFactsCache = new WeakMap<x509.X509Certificate, { keyHash: Buffer; publicKey: KeyObject }>();

function responderFacts(certificate: x509.X509Certificate): { keyHash: Buffer; publicKey: KeyObject } {
  let facts = responderFactsCache.get(certificate);
  if (facts === undefined) {
    const tbs = AsnConvert.parse(certificate.rawData, Certificate).tbsCertificate;
    facts = {
      keyHash: createHash('sha1').update(new Uint8Array(tbs.subjectPublicKeyInfo.subjectPublicKey)).digest(),
      publicKey: new NodeX509Certificate(new Uint8Array(certificate.rawData)).publicKey,
    };
    responderFactsCache.set(certificate, facts);
  }
  return facts;
}

/**
 * An OCSPResponse with the given error status and no responseBytes (RFC 6960 section 4.2.1):
 * unsigned, so it carries no certificate status and needs no key.
 */
export function ocspErrorResponse(status: 'malformedRequest' | 'internalError' | 'tryLater' | 'unauthorized'): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new OCSPResponse({ responseStatus: OCSPResponseStatus[status] })));
}

function singleResponse(answer: OcspSingleAnswer): SingleResponse {
  const thisUpdate = wholeSeconds(answer.thisUpdate, 'thisUpdate');
  const nextUpdate = wholeSeconds(answer.nextUpdate, 'nextUpdate');
  if (nextUpdate.getTime() < thisUpdate.getTime()) throw new Error('nextUpdate is before thisUpdate');
  return new SingleResponse({
    certID: AsnConvert.parse(answer.certId.der, CertID),
    certStatus: certStatus(answer.status),
    thisUpdate,
    nextUpdate,
  });
}

function certStatus(status: OcspCertStatus): CertStatus {
  switch (status.kind) {
    case 'good':
      return new CertStatus({ good: null });
    case 'unknown':
      return new CertStatus({ unknown: null });
    case 'revoked': {
      const revoked = new RevokedInfo({ revocationTime: wholeSeconds(status.revokedAt, 'revokedAt') });
      if (status.reason !== undefined && status.reason !== 'unspecified') {
        revoked.revocationReason = new CRLReason(reasonCode(status.reason));
      }
      return new CertStatus({ revoked });
    }
  }
}

/**
 * A certificate for `certs`. The ASN.1 library re-encodes rather than copying bytes, so the
 * result is checked to be identical: a changed byte would break that certificate's signature.
 */
function includedCertificate(certificate: x509.X509Certificate): Certificate {
  const parsed = AsnConvert.parse(certificate.rawData, Certificate);
  if (!Buffer.from(AsnConvert.serialize(parsed)).equals(new Uint8Array(certificate.rawData))) {
    throw new Error(`certificate ${certificate.subject} does not re-encode identically`);
  }
  return parsed;
}

/** GeneralizedTime without fractions (RFC 5280 4.1.2.5.2 style, which OCSP clients expect). */
function wholeSeconds(date: Date, what: string): Date {
  const time = date.getTime();
  if (Number.isNaN(time)) throw new Error(`${what} is not a valid date`);
  return new Date(time - (((time % 1000) + 1000) % 1000));
}

function copyToArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

function signAsync(digest: string | null, data: Uint8Array, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign(digest, data, { key, dsaEncoding: 'der' }, (error, signature) => (error ? reject(error) : resolve(signature)));
  });
}

function verifyAsync(digest: string | null, data: Uint8Array, key: KeyObject, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) => {
    verify(digest, data, { key, dsaEncoding: 'der' }, signature, (error, valid) => (error ? reject(error) : resolve(valid)));
  });
}
