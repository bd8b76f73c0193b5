import { CA_HIERARCHY, type IssuerName } from './ca-hierarchy.ts';
import type { CertificateProfile, ExtendedKeyUsageName, KeyUsageName } from './certificate-profile.ts';
import { DomainError } from './errors.ts';
import { isKeyAlgorithmName, type KeyAlgorithmName } from './key-algorithm.ts';
import { validateNamePolicy } from './name-policy-check.ts';
import { DEFAULT_EXPIRY_THRESHOLDS, parseExpiryThresholds, type ExpiryThresholds } from './lifecycle/expiry-thresholds.ts';

const KEY_USAGES: readonly KeyUsageName[] = ['digitalSignature', 'keyEncipherment', 'keyAgreement'];
const EXTENDED_KEY_USAGES: readonly ExtendedKeyUsageName[] = ['serverAuth', 'clientAuth'];
const PROFILE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export class ProfileConfigError extends Error {
  override readonly name = 'ProfileConfigError';
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Validates one raw profile (from JSON) into a typed profile, or throws naming the problem. */
function parseProfile(raw: unknown, index: number): CertificateProfile {
  if (typeof raw !== 'object' || raw === null) throw new ProfileConfigError(`profile #${index} is not an object`);
  const r = raw as Record<string, unknown>;
  const name = r.name;
  if (typeof name !== 'string' || !PROFILE_NAME.test(name)) {
    throw new ProfileConfigError(`profile #${index}: name must match ${PROFILE_NAME}`);
  }
  const fail = (message: string): never => {
    throw new ProfileConfigError(`profile ${name}: ${message}`);
  };
  const issuer = r.issuer;
  if (typeof issuer !== 'string' || !CA_HIERARCHY.some((d) => d.name === issuer && d.kind === 'intermediate')) {
    fail(`issuer must be one of the issuing CAs (${CA_HIERARCHY.filter((d) => d.kind === 'intermediate').map((d) => d.name).join(', ')})`);
  }
  const seconds = (key: string): number => {
    const value = r[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) fail(`${key} must be a positive whole number of seconds`);
    return value as number;
  };
  const defaultTtlSeconds = seconds('defaultTtlSeconds');
  const maxTtlSeconds = seconds('maxTtlSeconds');
  if (defaultTtlSeconds > maxTtlSeconds) fail('defaultTtlSeconds exceeds maxTtlSeconds');
  const keyUsages = r.keyUsages;
  if (!isStringArray(keyUsages) || keyUsages.length === 0 || !keyUsages.every((u) => (KEY_USAGES as readonly string[]).includes(u))) {
    fail(`keyUsages must be a non-empty subset of ${KEY_USAGES.join(', ')}`);
  }
  const ekus = r.extendedKeyUsages;
  if (!isStringArray(ekus) || ekus.length === 0 || !ekus.every((u) => (EXTENDED_KEY_USAGES as readonly string[]).includes(u))) {
    fail(`extendedKeyUsages must be a non-empty subset of ${EXTENDED_KEY_USAGES.join(', ')}`);
  }
  const algorithms = r.allowedKeyAlgorithms;
  if (!isStringArray(algorithms) || algorithms.length === 0 || !algorithms.every(isKeyAlgorithmName)) {
    fail('allowedKeyAlgorithms must be a non-empty list of ecdsa-p256, ecdsa-p384, ed25519, rsa-2048, rsa-3072, rsa-4096');
  }
  if (typeof r.serverSideKeyGeneration !== 'boolean') fail('serverSideKeyGeneration must be true or false');
  const profile: CertificateProfile = {
    name,
    issuer: issuer as IssuerName,
    defaultTtlSeconds,
    maxTtlSeconds,
    keyUsages: keyUsages as KeyUsageName[],
    extendedKeyUsages: ekus as ExtendedKeyUsageName[],
    allowedKeyAlgorithms: algorithms as KeyAlgorithmName[],
    serverSideKeyGeneration: r.serverSideKeyGeneration as boolean,
  };
  if (r.namePolicy !== undefined) {
    const policy = r.namePolicy as Record<string, unknown>;
    if (typeof policy !== 'object' || policy === null || !isStringArray(policy.dnsNames ?? []) || !isStringArray(policy.ipAddresses ?? []) || !isStringArray(policy.uris ?? [])) {
      fail('namePolicy must have string lists dnsNames, ipAddresses and uris');
    }
    profile.namePolicy = {
      dnsNames: (policy.dnsNames as string[] | undefined) ?? [],
      ipAddresses: (policy.ipAddresses as string[] | undefined) ?? [],
      uris: (policy.uris as string[] | undefined) ?? [],
    };
    const problems = validateNamePolicy(profile.namePolicy);
    if (problems.length > 0) fail(`namePolicy: ${problems.join('; ')}`);
  }
  if (r.expiryThresholds !== undefined) {
    if (typeof r.expiryThresholds !== 'string') fail('expiryThresholds must be a string such as "30d,14d,7d,1d,75%,90%"');
    try {
      profile.expiryThresholds = parseExpiryThresholds(r.expiryThresholds as string);
    } catch (error) {
      fail(error instanceof DomainError ? error.detail : String(error));
    }
  }
  return profile;
}

/**
 * The validated set of profiles. Built once at start-up; cross-checked against the CA
 * hierarchy so that every profile has an issuing CA and its longest validity fits inside it.
 */
export class ProfileCatalog {
  private readonly byName: Map<string, CertificateProfile>;

  private constructor(
    profiles: CertificateProfile[],
    private readonly defaultThresholds: ExpiryThresholds,
  ) {
    this.byName = new Map(profiles.map((p) => [p.name, p]));
  }

  /** The expiry thresholds of a profile (its own, else the configured default). */
  thresholdsFor(profileName: string): ExpiryThresholds {
    return this.byName.get(profileName)?.expiryThresholds ?? this.defaultThresholds;
  }

  /**
   * @param raw profiles as read from configuration (JSON array), already-typed defaults included.
   * @param issuerValiditySeconds remaining validity of each issuing CA, in seconds.
   */
  static fromConfig(
    raw: unknown,
    issuerValiditySeconds: (issuer: IssuerName) => number,
    defaultThresholds: ExpiryThresholds = DEFAULT_EXPIRY_THRESHOLDS,
  ): ProfileCatalog {
    if (!Array.isArray(raw) || raw.length === 0) throw new ProfileConfigError('profiles must be a non-empty JSON array');
    const profiles = raw.map(parseProfile);
    const seen = new Set<string>();
    for (const profile of profiles) {
      if (seen.has(profile.name)) throw new ProfileConfigError(`profile ${profile.name} is defined twice`);
      seen.add(profile.name);
      if (profile.maxTtlSeconds > issuerValiditySeconds(profile.issuer)) {
        throw new ProfileConfigError(`profile ${profile.name}: maxTtlSeconds outlives its issuer ${profile.issuer}`);
      }
      const testIssuer = CA_HIERARCHY.find((d) => d.name === profile.issuer)?.environment === 'test';
      if (testIssuer && !profile.namePolicy) {
        throw new ProfileConfigError(`profile ${profile.name}: a profile of the test CA needs its own namePolicy`);
      }
      if (profile.serverSideKeyGeneration && !testIssuer) {
        // Production keys are generated where they are used; only test certificates may be made here.
        throw new ProfileConfigError(`profile ${profile.name}: serverSideKeyGeneration is only allowed for test-CA profiles`);
      }
    }
    return new ProfileCatalog(profiles, defaultThresholds);
  }

  /** The profile, or a `bad_request` refusal naming the known ones. */
  get(name: string): CertificateProfile {
    const profile = this.byName.get(name);
    if (!profile) {
      throw new DomainError('bad_request', `unknown profile ${JSON.stringify(name)}; known profiles: ${[...this.byName.keys()].join(', ')}`);
    }
    return profile;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  list(): CertificateProfile[] {
    return [...this.byName.values()];
  }
}
