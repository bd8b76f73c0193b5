import { CA_HIERARCHY, issuerUrls, type IssuerName } from '../domain/ca-hierarchy.ts';
import { DomainError } from '../domain/errors.ts';
import { certificatePem } from '../domain/x509/certificate-facts.ts';
import type { CaHierarchy } from './ca-hierarchy.service.ts';

export interface IssuerSummary {
  name: IssuerName;
  kind: 'root' | 'intermediate';
  environment: 'production' | 'test';
  parent: IssuerName | undefined;
  subject: string;
  serial: string;
  fingerprintSha256: string;
  keyAlgorithm: string;
  notBefore: Date;
  notAfter: Date;
  certificateUrl: string;
}

/** Read-only answers about the CA hierarchy: what relying parties and callers may know. */
export class IssuerCatalog {
  constructor(
    private readonly hierarchy: CaHierarchy,
    private readonly publicHttpUrl: string,
  ) {}

  /** Every issuer, in hierarchy order (each root before its intermediate). */
  list(): IssuerSummary[] {
    return CA_HIERARCHY.map((definition) => {
      const { record, signer } = this.hierarchy.get(definition.name);
      return {
        name: record.name,
        kind: record.kind,
        environment: record.environment,
        parent: record.parentName,
        subject: record.subjectDn,
        serial: signer.certificate.serialNumber.toLowerCase(),
        fingerprintSha256: record.fingerprintSha256,
        keyAlgorithm: record.keyAlgorithm,
        notBefore: record.notBefore,
        notAfter: record.notAfter,
        certificateUrl: issuerUrls(this.publicHttpUrl, record.name).certificate,
      };
    });
  }

  /** PEM chain of an issuer: the issuer first, its root last. */
  chainPem(name: IssuerName): string {
    return this.hierarchy.chain(name).map(certificatePem).join('');
  }

  /** One issuer's certificate; `not_found` for a name that is not an issuer. */
  certificate(name: string): { der: Uint8Array; pem: string } {
    const definition = CA_HIERARCHY.find((d) => d.name === name);
    if (!definition) throw new DomainError('not_found', `there is no issuer named ${name}`);
    const { signer } = this.hierarchy.get(definition.name);
    return { der: new Uint8Array(signer.certificate.rawData), pem: certificatePem(signer.certificate) };
  }
}
