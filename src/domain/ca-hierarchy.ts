import type { KeyAlgorithmName } from './key-algorithm.ts';

/** Names of the issuers Trustroot creates on first start; also their public file names. */
export type IssuerName = 'root' | 'intermediate' | 'test-root' | 'test-intermediate';

export type IssuerEnvironment = 'production' | 'test';

export interface IssuerDefinition {
  name: IssuerName;
  kind: 'root' | 'intermediate';
  environment: IssuerEnvironment;
  /** The issuer that signs this one; absent for a self-signed root. */
  parent?: IssuerName;
  subjectDn: string;
  keyAlgorithm: KeyAlgorithmName;
  validityDays: number;
  /** basicConstraints pathLenConstraint; absent means unconstrained. */
  pathLength?: number;
}

const TEN_YEARS_DAYS = 3652;
const FIVE_YEARS_DAYS = 1826;

/**
 * The hierarchy: a production root and issuing intermediate for service identities, and a
 * separate test root and intermediate for CI certificates. The two trees share no key, so a
 * test certificate can never chain to the production root. Parents come before children.
 */
export const CA_HIERARCHY: readonly IssuerDefinition[] = [
  {
    name: 'root',
    kind: 'root',
    environment: 'production',
    subjectDn: 'CN=Trustroot Root CA, O=Trustroot',
    keyAlgorithm: 'ecdsa-p384',
    validityDays: TEN_YEARS_DAYS,
    pathLength: 1,
  },
  {
    name: 'intermediate',
    kind: 'intermediate',
    environment: 'production',
    parent: 'root',
    subjectDn: 'CN=Trustroot Issuing CA, O=Trustroot',
    keyAlgorithm: 'ecdsa-p256',
    validityDays: FIVE_YEARS_DAYS,
    pathLength: 0,
  },
  {
    name: 'test-root',
    kind: 'root',
    environment: 'test',
    subjectDn: 'CN=Trustroot Test Root CA - NOT FOR PRODUCTION, O=Trustroot',
    keyAlgorithm: 'ecdsa-p384',
    validityDays: TEN_YEARS_DAYS,
    pathLength: 1,
  },
  {
    name: 'test-intermediate',
    kind: 'intermediate',
    environment: 'test',
    parent: 'test-root',
    subjectDn: 'CN=Trustroot Test Issuing CA - NOT FOR PRODUCTION, O=Trustroot',
    keyAlgorithm: 'ecdsa-p256',
    validityDays: FIVE_YEARS_DAYS,
    pathLength: 0,
  },
];

/** The issuer that signs production service certificates (and Trustroot's own TLS certificate). */
export const PRODUCTION_ISSUER: IssuerName = 'intermediate';
/** The issuer that signs CI test certificates. */
export const TEST_ISSUER: IssuerName = 'test-intermediate';

/** Public URLs relying parties fetch from the plain HTTP listener, per issuer. */
export function issuerUrls(publicHttpUrl: string, issuer: IssuerName): { certificate: string; crl: string; ocsp: string } {
  return {
    certificate: `${publicHttpUrl}/ca/${issuer}.crt`,
    crl: `${publicHttpUrl}/crl/${issuer}.crl`,
    ocsp: `${publicHttpUrl}/ocsp/${issuer}`,
  };
}
