import { randomBytes, webcrypto } from 'node:crypto';
import type { Clock, RandomSource } from '../../../src/domain/clock.ts';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../../../src/domain/key-algorithm.ts';
import type {
  AuditEntry,
  CertificateWriter,
  IssuerReader,
  IssuerRecord,
  IssuerWriter,
  NewCertificateRecord,
  NewIssuerRecord,
  SigningKeyStore,
} from '../../../src/domain/ports.ts';

/** In-memory fakes of the domain ports, for use-case tests (no database, no files). */

/** A clock that moves only when the test says so. */
export class FakeClock implements Clock {
  private current: number;
  constructor(start: Date) {
    this.current = start.getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(date: Date): void {
    this.current = date.getTime();
  }
}

export const nodeRandom: RandomSource = { bytes: (length) => new Uint8Array(randomBytes(length)) };

/** Issuers kept in an array; `createHierarchy` answers `exists` once a hierarchy is stored. */
export class InMemoryIssuers implements IssuerReader, IssuerWriter {
  readonly records: IssuerRecord[] = [];
  readonly audit: AuditEntry[] = [];
  createCalls = 0;

  async listIssuers(): Promise<IssuerRecord[]> {
    return this.records.map((record) => ({ ...record }));
  }

  async createHierarchy(issuers: NewIssuerRecord[], audit: AuditEntry[]): Promise<'created' | 'exists'> {
    this.createCalls += 1;
    if (this.records.length > 0) return 'exists';
    for (const [index, issuer] of issuers.entries()) {
      this.records.push({
        id: `issuer-${index + 1}`,
        name: issuer.name,
        kind: issuer.kind,
        environment: issuer.environment,
        parentName: issuer.parentName,
        subjectDn: issuer.subjectDn,
        keyAlgorithm: issuer.keyAlgorithm,
        keyRef: issuer.keyRef,
        fingerprintSha256: issuer.fingerprintSha256,
        notBefore: issuer.notBefore,
        notAfter: issuer.notAfter,
        certificateDer: issuer.certificateDer,
      });
    }
    this.audit.push(...audit);
    return 'created';
  }
}

/** Key pairs in a Map; `load` hands back the stored private key. Records every call. */
export class InMemoryKeyStore implements SigningKeyStore {
  readonly pairs = new Map<string, { algorithm: KeyAlgorithmName; pair: CryptoKeyPair }>();
  readonly generated: string[] = [];
  readonly loaded: string[] = [];
  readonly discarded: string[] = [];

  async generate(keyRef: string, algorithm: KeyAlgorithmName): Promise<CryptoKeyPair> {
    if (this.pairs.has(keyRef)) throw new Error(`key ${keyRef} already exists`);
    const { keyParams, usages } = keyAlgorithmParameters(algorithm);
    const pair = (await webcrypto.subtle.generateKey(keyParams, false, usages)) as CryptoKeyPair;
    this.pairs.set(keyRef, { algorithm, pair });
    this.generated.push(keyRef);
    return pair;
  }

  async load(keyRef: string, algorithm: KeyAlgorithmName): Promise<CryptoKey> {
    this.loaded.push(keyRef);
    const stored = this.pairs.get(keyRef);
    if (!stored) throw new Error(`no key ${keyRef}`);
    if (stored.algorithm !== algorithm) throw new Error(`key ${keyRef} is ${stored.algorithm}, not ${algorithm}`);
    return stored.pair.privateKey;
  }

  async discard(keyRef: string): Promise<void> {
    this.discarded.push(keyRef);
    this.pairs.delete(keyRef);
  }
}

/** Records what a use case put into the certificate inventory. */
export class InMemoryCertificates implements CertificateWriter {
  readonly issued: { certificate: NewCertificateRecord; audit: AuditEntry }[] = [];
  async recordIssued(certificate: NewCertificateRecord, audit: AuditEntry): Promise<void> {
    this.issued.push({ certificate, audit });
  }
}
