import { createHash } from 'node:crypto';
import { BasicOCSPResponse, CertID, OCSPRequest, OCSPResponse, OCSPResponseStatus, Request, TBSRequest } from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, CertificateList } from '@peculiar/asn1-x509';

const ID_SHA1 = '1.3.14.3.2.26';

/** The DER INTEGER content of a positive serial given in hex (a leading 00 when the top bit is set). */
function serialBytes(serialHex: string): ArrayBuffer {
  let hex = serialHex.toLowerCase().replace(/^0+/, '');
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (/^[89a-f]/.test(hex)) hex = `00${hex}`;
  return new Uint8Array(Buffer.from(hex, 'hex')).buffer;
}

/** Hex of a DER INTEGER's content, without leading zeros, as Trustroot writes serials. */
function serialHexOf(bytes: ArrayBuffer): string {
  return Buffer.from(bytes).toString('hex').replace(/^0+/, '');
}

/**
 * A DER OCSP request (RFC 6960, no nonce, unsigned) for one serial of the issuer whose DER
 * certificate is given, with a SHA-1 CertID as most clients send. Built once, sent many times.
 */
export function ocspRequestFor(issuerDer: Uint8Array, serialHex: string): Buffer {
  const issuer = AsnConvert.parse(issuerDer, Certificate);
  const sha1 = (data: ArrayBuffer) => new OctetString(createHash('sha1').update(Buffer.from(data)).digest());
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: ID_SHA1, parameters: null }),
    issuerNameHash: sha1(AsnConvert.serialize(issuer.tbsCertificate.subject)),
    issuerKeyHash: sha1(issuer.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey),
    serialNumber: serialBytes(serialHex),
  });
  const request = new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId })] }) });
  return Buffer.from(AsnConvert.serialize(request));
}

/** The status an OCSP response gives its first certificate, or why it gives none. */
export function ocspStatus(der: Uint8Array): 'good' | 'revoked' | 'unknown' | `error: ${string}` {
  const response = AsnConvert.parse(der, OCSPResponse);
  if (response.responseStatus !== OCSPResponseStatus.successful || !response.responseBytes) {
    return `error: responseStatus ${OCSPResponseStatus[response.responseStatus] ?? response.responseStatus}`;
  }
  const basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
  const status = basic.tbsResponseData.responses[0]?.certStatus;
  if (!status) return 'error: no SingleResponse';
  if (status.revoked) return 'revoked';
  if (status.unknown !== undefined) return 'unknown';
  return 'good';
}

/** Whether a DER CRL lists the serial. */
export function crlListsSerial(der: Uint8Array, serialHex: string): boolean {
  const wanted = serialHex.toLowerCase().replace(/^0+/, '');
  const crl = AsnConvert.parse(der, CertificateList);
  return (crl.tbsCertList.revokedCertificates ?? []).some((entry) => serialHexOf(entry.userCertificate) === wanted);
}
