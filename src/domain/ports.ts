import type { IssuerEnvironment, IssuerName } from './ca-hierarchy.ts';
import type { KeyAlgorithmName } from './key-algorithm.ts';
import type { CertificateFacts } from './x509/certificate-facts.ts';

/**
 * Narrow interfaces the use cases depend on. `storage/` and `keys/` implement them; tests
 * implement them in memory. A reader is not a writer.
 */

/** One event of the audit trail, as the use case describes it. Storage chains and stores it. */
export interface AuditEntry {
  occurredAt: Date;
  /** Who acted: `system`, `api-token:<id>`, `mtls:<serial>`, `bootstrap-token:<id>`. */
  actor: string;
  actorRole?: string;
  sourceAddress?: string;
  requestId?: string;
  /** Dotted verb, e.g. `ca.created`, `certificate.issued`. */
  action: string;
  targetType: string;
  targetId?: string;
  details: Record<string, unknown>;
}

/** A stored issuer: public material and where its encrypted key lives. */
export interface IssuerRecord {
  id: string;
  name: IssuerName;
  kind: 'root' | 'intermediate';
  environment: IssuerEnvironment;
  parentName: IssuerName | undefined;
  subjectDn: string;
  keyAlgorithm: KeyAlgorithmName;
  keyRef: string;
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
  certificateDer: Uint8Array;
}

export type NewIssuerRecord = Omit<IssuerRecord, 'id'> & { facts: CertificateFacts };

export interface IssuerReader {
  /** Every issuer, parents before children. */
  listIssuers(): Promise<IssuerRecord[]>;
}

export interface IssuerWriter {
  /**
   * Stores a whole hierarchy, each CA certificate in the inventory as well, and the audit
   * entries, in one transaction. Returns `exists` (and stores nothing) when another process
   * created the hierarchy first.
   */
  createHierarchy(issuers: NewIssuerRecord[], audit: AuditEntry[]): Promise<'created' | 'exists'>;
}

/** A certificate about to enter the inventory. */
export interface NewCertificateRecord {
  issuerName: IssuerName;
  serviceName: string | undefined;
  profile: string;
  keyAlgorithm: KeyAlgorithmName;
  requestedBy: string;
  facts: CertificateFacts;
}

export interface CertificateWriter {
  /** Commits the certificate record and its audit entry together. */
  recordIssued(certificate: NewCertificateRecord, audit: AuditEntry): Promise<void>;
}

/** Private keys of the CAs, encrypted at rest; only handles ever leave this port. */
export interface SigningKeyStore {
  /**
   * Generates a key pair, stores the private key encrypted under `keyRef`, and returns a
   * non-extractable private key handle with its public key.
   */
  generate(keyRef: string, algorithm: KeyAlgorithmName): Promise<CryptoKeyPair>;
  /** Decrypts the private key stored under `keyRef` into a non-extractable handle. */
  load(keyRef: string, algorithm: KeyAlgorithmName): Promise<CryptoKey>;
  /** Removes a key generated for a hierarchy that lost a creation race. */
  discard(keyRef: string): Promise<void>;
}

export interface DatabaseHealth {
  /** Resolves when the database answers a trivial query within the configured timeout. */
  ping(): Promise<void>;
}
