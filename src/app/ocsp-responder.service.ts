import { CA_HIERARCHY } from '../domain/ca-hierarchy.ts';
import type { Clock } from '../domain/clock.ts';
import { certIdMatchesIssuer, MalformedOcspRequestError, parseOcspRequest } from '../domain/ocsp/ocsp-request.ts';
import { buildOcspResponse, ocspErrorResponse, type OcspCertStatus, type OcspSingleAnswer } from '../domain/ocsp/ocsp-response.ts';
import type { RevocationStatusReader } from '../domain/ports.ts';
import type { CaHierarchy } from './ca-hierarchy.service.ts';

export interface OcspResponderLog {
  error(details: Record<string, unknown>, message: string): void;
}

/**
 * The OCSP responder (RFC 6960) of each issuer, signing with the issuer's own key. Status is
 * read from the inventory on every request, so a revocation shows at once; answers say how
 * long they may be cached (`validitySeconds`).
 */
export class OcspResponderService {
  constructor(
    private readonly hierarchy: CaHierarchy,
    private readonly statuses: RevocationStatusReader,
    private readonly clock: Clock,
    private readonly validitySeconds: number,
    private readonly log: OcspResponderLog,
  ) {}

  /** Always returns a DER OCSPResponse: an answer, or malformedRequest / unauthorized / internalError. */
  async respond(issuerName: string, requestDer: Uint8Array): Promise<Uint8Array> {
    const definition = CA_HIERARCHY.find((d) => d.name === issuerName);
    if (!definition) return ocspErrorResponse('unauthorized');
    let request;
    try {
      request = parseOcspRequest(requestDer);
    } catch (error) {
      if (error instanceof MalformedOcspRequestError) return ocspErrorResponse('malformedRequest');
      throw error;
    }
    try {
      const issuer = this.hierarchy.get(definition.name);
      const now = this.clock.now();
      const nextUpdate = new Date(now.getTime() + this.validitySeconds * 1000);
      const answers: OcspSingleAnswer[] = [];
      for (const certId of request.certIds) {
        let status: OcspCertStatus = { kind: 'unknown' };
        if (certIdMatchesIssuer(certId, issuer.signer.certificate)) {
          const found = await this.statuses.statusOf(definition.name, certId.serialHex);
          if (found.known) {
            status = found.revokedAt ? { kind: 'revoked', revokedAt: found.revokedAt, reason: found.reason } : { kind: 'good' };
          }
        }
        answers.push({ certId, status, thisUpdate: now, nextUpdate });
      }
      return await buildOcspResponse({
        responder: {
          certificate: issuer.signer.certificate,
          privateKey: issuer.signer.privateKey,
          keyAlgorithm: issuer.signer.keyAlgorithm,
          includeCertificates: [],
        },
        producedAt: now,
        answers,
        nonce: request.nonce,
      });
    } catch (error) {
      // OCSP clients understand internalError; a 5xx HTML/JSON page would only confuse them.
      this.log.error({ err: error, issuer: issuerName }, 'OCSP response failed');
      return ocspErrorResponse('internalError');
    }
  }
}
