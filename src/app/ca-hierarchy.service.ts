import { CA_HIERARCHY, issuerUrls, type IssuerDefinition, type IssuerName } from '../domain/ca-hierarchy.ts';
import type { Clock, RandomSource } from '../domain/clock.ts';
import { keyAlgorithmParameters } from '../domain/key-algorithm.ts';
import type { AuditEntry, IssuerReader, IssuerRecord, IssuerWriter, NewIssuerRecord, SigningKeyStore } from '../domain/ports.ts';
import { generateSerialNumber } from '../domain/serial-number.ts';
import { buildCaCertificate, type SigningIssuer } from '../domain/x509/certificate-builder.ts';
import { certificateFacts } from '../domain/x509/certificate-facts.ts';
import { nodeCrypto, x509 } from '../domain/x509/crypto-provider.ts';

const DAY_MS = 86_400_000;
/** CA certificates start a little in the past so that relying parties with slow clocks accept them. */
const CA_BACKDATE_MS = 5 * 60_000;

export interface LoadedIssuer {
  record: IssuerRecord;
  signer: SigningIssuer;
}

/** The CA hierarchy in memory: every issuer with its certificate and private-key handle. */
export class CaHierarchy {
  private readonly byName: Map<IssuerName, LoadedIssuer>;

  constructor(issuers: LoadedIssuer[]) {
    this.byName = new Map(issuers.map((issuer) => [issuer.record.name, issuer]));
  }

  get(name: IssuerName): LoadedIssuer {
    const issuer = this.byName.get(name);
    if (!issuer) throw new Error(`issuer ${name} is not loaded`);
    return issuer;
  }

  list(): LoadedIssuer[] {
    return [...this.byName.values()];
  }

  /** The issuer's certificate followed by its parents, up to and including the root. */
  chain(name: IssuerName): x509.X509Certificate[] {
    const chain: x509.X509Certificate[] = [];
    let current: IssuerName | undefined = name;
    while (current !== undefined) {
      const issuer = this.get(current);
      chain.push(issuer.signer.certificate);
      current = issuer.record.parentName;
    }
    return chain;
  }
}

export interface CaHierarchyDependencies {
  issuers: IssuerReader & IssuerWriter;
  keys: SigningKeyStore;
  clock: Clock;
  random: RandomSource;
  /** Base URL of the plain HTTP listener, written into CA certificates (AIA, CRL DP). */
  publicHttpUrl: string;
}

/**
 * Loads the CA hierarchy, creating it on first start. Creation generates every key and
 * certificate in memory, stores the encrypted keys, then commits all issuers in one
 * transaction; a replica that loses the race discards its keys and loads the winner's.
 */
export async function loadOrCreateCaHierarchy(
  deps: CaHierarchyDependencies,
): Promise<{ hierarchy: CaHierarchy; created: boolean }> {
  let records = await deps.issuers.listIssuers();
  let created = false;
  if (records.length === 0) {
    const generated = await generateHierarchy(deps);
    const discardKeys = () => Promise.all(generated.records.map((record) => deps.keys.discard(record.keyRef)));
    const outcome = await deps.issuers.createHierarchy(generated.records, generated.audit).catch(async (error: unknown) => {
      await discardKeys();
      throw error;
    });
    if (outcome === 'exists') await discardKeys();
    else created = true;
    records = await deps.issuers.listIssuers();
  }
  const missing = CA_HIERARCHY.filter((def) => !records.some((record) => record.name === def.name));
  if (missing.length > 0) {
    throw new Error(`the database holds an incomplete CA hierarchy (missing: ${missing.map((d) => d.name).join(', ')})`);
  }
  const loaded = await Promise.all(records.map((record) => loadIssuer(record, deps.keys, deps.random)));
  return { hierarchy: new CaHierarchy(loaded), created };
}

async function generateHierarchy(
  deps: CaHierarchyDependencies,
): Promise<{ records: NewIssuerRecord[]; audit: AuditEntry[] }> {
  const now = deps.clock.now();
  const signers = new Map<IssuerName, SigningIssuer>();
  const records: NewIssuerRecord[] = [];
  const audit: AuditEntry[] = [];
  for (const definition of CA_HIERARCHY) {
    const keyRef = `${definition.name}-${Buffer.from(deps.random.bytes(6)).toString('hex')}`;
    const keys = await deps.keys.generate(keyRef, definition.keyAlgorithm);
    const certificate = await buildIssuerCertificate(definition, keys, signers, now, deps);
    signers.set(definition.name, {
      name: definition.name,
      certificate,
      privateKey: keys.privateKey,
      keyAlgorithm: definition.keyAlgorithm,
    });
    const facts = certificateFacts(certificate);
    records.push({
      name: definition.name,
      kind: definition.kind,
      environment: definition.environment,
      parentName: definition.parent,
      subjectDn: facts.subjectDn,
      keyAlgorithm: definition.keyAlgorithm,
      keyRef,
      fingerprintSha256: facts.fingerprintSha256,
      notBefore: facts.notBefore,
      notAfter: facts.notAfter,
      certificateDer: facts.der,
      facts,
    });
    audit.push({
      occurredAt: now,
      actor: 'system',
      action: 'ca.created',
      targetType: 'issuer',
      targetId: definition.name,
      details: {
        kind: definition.kind,
        environment: definition.environment,
        subject: facts.subjectDn,
        serial: facts.serialHex,
        fingerprintSha256: facts.fingerprintSha256,
        keyAlgorithm: definition.keyAlgorithm,
        notAfter: facts.notAfter.toISOString(),
      },
    });
  }
  return { records, audit };
}

async function buildIssuerCertificate(
  definition: IssuerDefinition,
  keys: CryptoKeyPair,
  signers: Map<IssuerName, SigningIssuer>,
  now: Date,
  deps: CaHierarchyDependencies,
): Promise<x509.X509Certificate> {
  const notBefore = new Date(now.getTime() - CA_BACKDATE_MS);
  let notAfter = new Date(now.getTime() + definition.validityDays * DAY_MS);
  const serialHex = generateSerialNumber(deps.random);
  if (definition.parent === undefined) {
    return buildCaCertificate({
      serialHex,
      notBefore,
      notAfter,
      subjectDn: definition.subjectDn,
      subjectPublicKey: keys.publicKey,
      pathLength: definition.pathLength,
      selfSigningKey: { privateKey: keys.privateKey, keyAlgorithm: definition.keyAlgorithm },
    });
  }
  const parent = signers.get(definition.parent);
  if (!parent) throw new Error(`issuer ${definition.parent} must be created before ${definition.name}`);
  // A subordinate never outlives its parent.
  if (notAfter > parent.certificate.notAfter) notAfter = parent.certificate.notAfter;
  const urls = issuerUrls(deps.publicHttpUrl, definition.parent);
  return buildCaCertificate({
    serialHex,
    notBefore,
    notAfter,
    subjectDn: definition.subjectDn,
    subjectPublicKey: keys.publicKey,
    pathLength: definition.pathLength,
    parent: { issuer: parent, locations: { caIssuersUrl: urls.certificate, crlUrl: urls.crl } },
  });
}

/**
 * Decrypts an issuer's key and proves it belongs to the stored certificate (a signature made
 * with it verifies under the certificate's public key) before the issuer may sign anything.
 */
async function loadIssuer(record: IssuerRecord, keys: SigningKeyStore, random: RandomSource): Promise<LoadedIssuer> {
  const certificate = new x509.X509Certificate(new Uint8Array(record.certificateDer));
  const privateKey = await keys.load(record.keyRef, record.keyAlgorithm);
  const { signingParams } = keyAlgorithmParameters(record.keyAlgorithm);
  const challenge = new Uint8Array(random.bytes(32));
  const signature = await nodeCrypto.subtle.sign(signingParams, privateKey, challenge);
  const publicKey = await certificate.publicKey.export(
    keyAlgorithmParameters(record.keyAlgorithm).keyParams,
    ['verify'],
    nodeCrypto,
  );
  if (!(await nodeCrypto.subtle.verify(signingParams, publicKey, signature, challenge))) {
    throw new Error(`the key stored for issuer ${record.name} does not match its certificate`);
  }
  return {
    record,
    signer: { name: record.name, certificate, privateKey, keyAlgorithm: record.keyAlgorithm },
  };
}
