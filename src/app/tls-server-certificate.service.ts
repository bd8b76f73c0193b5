import { issuerUrls, PRODUCTION_ISSUER } from '../domain/ca-hierarchy.ts';
import type { Clock, RandomSource } from '../domain/clock.ts';
import { isIpAddress } from '../domain/ip-address.ts';
import type { CertificateWriter } from '../domain/ports.ts';
import { generateSerialNumber } from '../domain/serial-number.ts';
import { validityWindow } from '../domain/validity.ts';

/** Clock skew tolerated by relying parties (one definition, in the domain). */
export { NOT_BEFORE_BACKDATE_MS } from '../domain/validity.ts';
import { buildLeafCertificate } from '../domain/x509/certificate-builder.ts';
import { certificateFacts, certificatePem } from '../domain/x509/certificate-facts.ts';
import { nodeCrypto, x509 } from '../domain/x509/crypto-provider.ts';
import type { CaHierarchy } from './ca-hierarchy.service.ts';

/** Trustroot's own TLS credentials for the API listener. The key exists only in memory. */
export interface TlsServerCredentials {
  privateKeyPem: string;
  certificatePem: string;
  /** Leaf, then intermediate(s); the root is left to the client's trust store. */
  chainPem: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

export interface TlsServerCertificateDependencies {
  hierarchy: CaHierarchy;
  certificates: CertificateWriter;
  clock: Clock;
  random: RandomSource;
  publicHttpUrl: string;
}

/**
 * Issues the API listener's certificate from the production intermediate for `hostnames`,
 * valid `ttlSeconds`, and records it in the inventory before returning it. A fresh P-256 key
 * is generated each time and never written anywhere.
 */
export async function issueTlsServerCertificate(
  deps: TlsServerCertificateDependencies,
  hostnames: string[],
  ttlSeconds: number,
): Promise<TlsServerCredentials> {
  const issuer = deps.hierarchy.get(PRODUCTION_ISSUER);
  const now = deps.clock.now();
  const { notBefore, notAfter } = validityWindow(now, ttlSeconds, ttlSeconds, issuer.signer.certificate.notAfter);
  const keys = (await nodeCrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const urls = issuerUrls(deps.publicHttpUrl, PRODUCTION_ISSUER);
  const certificate = await buildLeafCertificate({
    serialHex: generateSerialNumber(deps.random),
    notBefore,
    notAfter,
    commonName: hostnames[0],
    sans: {
      dnsNames: hostnames.filter((name) => !isIpAddress(name)),
      ipAddresses: hostnames.filter(isIpAddress),
      uris: [],
    },
    subjectPublicKey: keys.publicKey,
    keyUsages: x509.KeyUsageFlags.digitalSignature,
    extendedKeyUsages: [x509.ExtendedKeyUsage.serverAuth],
    issuer: issuer.signer,
    locations: { caIssuersUrl: urls.certificate, crlUrl: urls.crl, ocspUrl: urls.ocsp },
  });
  const facts = certificateFacts(certificate);
  await deps.certificates.recordIssued(
    {
      issuerName: PRODUCTION_ISSUER,
      serviceName: undefined,
      profile: 'trustroot-api',
      keyAlgorithm: 'ecdsa-p256',
      requestedBy: 'system',
      facts,
    },
    {
      occurredAt: now,
      actor: 'system',
      action: 'certificate.issued',
      targetType: 'certificate',
      targetId: facts.serialHex,
      details: { profile: 'trustroot-api', issuer: PRODUCTION_ISSUER, sans: facts.sans, notAfter: facts.notAfter.toISOString() },
    },
  );
  const pkcs8 = await nodeCrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const leafPem = certificatePem(certificate);
  const intermediates = deps.hierarchy.chain(PRODUCTION_ISSUER).filter((c) => !isSelfSigned(c));
  return {
    privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    certificatePem: leafPem,
    chainPem: [leafPem, ...intermediates.map(certificatePem)].join(''),
    serialHex: facts.serialHex,
    notBefore,
    notAfter,
  };
}

function isSelfSigned(certificate: x509.X509Certificate): boolean {
  return certificate.subject === certificate.issuer;
}

/** The moment a certificate should be replaced: two thirds into its validity. */
export function renewalDue(notBefore: Date, notAfter: Date): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return new Date(notBefore.getTime() + Math.floor((lifetime * 2) / 3));
}

/**
 * Keeps the API listener's certificate fresh: `rotateIfDue` issues a new one once two thirds
 * of the current one's validity have passed, and hands it to `install` (which swaps the TLS
 * context without dropping the listener).
 */
export class TlsCertificateRotation {
  private current: TlsServerCredentials | undefined;

  constructor(
    private readonly issue: () => Promise<TlsServerCredentials>,
    private readonly install: (credentials: TlsServerCredentials) => void,
    private readonly clock: Clock,
  ) {}

  /** Issues and installs the first certificate. */
  async start(): Promise<TlsServerCredentials> {
    const credentials = await this.issue();
    this.current = credentials;
    this.install(credentials);
    return credentials;
  }

  get credentials(): TlsServerCredentials | undefined {
    return this.current;
  }

  /** @returns true when a new certificate was installed. */
  async rotateIfDue(): Promise<boolean> {
    const current = this.current;
    if (current && this.clock.now() < renewalDue(current.notBefore, current.notAfter)) return false;
    await this.start();
    return true;
  }
}
