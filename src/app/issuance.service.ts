import { CA_HIERARCHY, issuerUrls, type IssuerName } from '../domain/ca-hierarchy.ts';
import type { CertificateProfile } from '../domain/certificate-profile.ts';
import type { Clock, RandomSource } from '../domain/clock.ts';
import { parseCsr } from '../domain/csr/parse-csr.ts';
import { DomainError } from '../domain/errors.ts';
import { isKeyAlgorithmName, keyAlgorithmParameters, type KeyAlgorithmName } from '../domain/key-algorithm.ts';
import { thresholdMoments } from '../domain/lifecycle/expiry-thresholds.ts';
import { lintCertificate } from '../domain/lint/lint-certificate.ts';
import type { OperationMetrics } from '../domain/metrics-port.ts';
import type { NamePolicy } from '../domain/name-policy.ts';
import { checkSanSyntax, findDisallowedName } from '../domain/name-policy-check.ts';
import type { AuditEntry, CertificateReader, IssuanceAheadClaim, IssuanceStore, OpenedIssuance, PendingIssuance, ServiceReader, ServiceRecord } from '../domain/ports.ts';
import { actorOf, requireAuthenticated, type Principal } from '../domain/principal.ts';
import type { ProfileCatalog } from '../domain/profile-catalog.ts';
import { classifyNames, flattenNames, sameNames } from '../domain/san-list.ts';
import { generateSerialNumber } from '../domain/serial-number.ts';
import { BOOTSTRAP_TOKEN_PREFIX, hashTokenSecret, looksLikeToken } from '../domain/token-secret.ts';
import { parseRequestedTtl, validityWindow, NOT_BEFORE_BACKDATE_MS } from '../domain/validity.ts';
import type { SubjectAlternativeNames } from '../domain/x509/certificate-builder.ts';
import type { EncodedPublicKey } from '../domain/x509/certificate-template.ts';
import { certificatePem, derCertificatePem, type CertificateFacts } from '../domain/x509/certificate-facts.ts';
import { nodeCrypto, x509 } from '../domain/x509/crypto-provider.ts';
import { prepareFastLeaf, signFastLeaf, type FastLeafTemplate } from '../domain/x509/fast-leaf.ts';
import { leafIssuerParts, type LeafIssuerParts } from '../domain/x509/leaf-der-encoder.ts';
import { buildPkcs12 } from '../domain/x509/pkcs12-bundle.ts';
import type { CaHierarchy, LoadedIssuer } from './ca-hierarchy.service.ts';
import { CsrCheckAhead } from './csr-check-ahead.ts';
import { IssuanceAhead, type TransactionAhead } from './issuance-ahead.ts';
import type { RequestContext } from './request-context.ts';

export interface IssueRequest {
  /** PEM PKCS#10 request; exactly one of `csr` and `generateKey`. */
  csr?: string;
  /** Key algorithm for server-side key generation (profiles that allow it only). */
  generateKey?: string;
  profile: string;
  /** Seconds, or a duration string; default the profile's. Clamped to the profile maximum. */
  ttl?: number | string;
  /** Names for the certificate; default the CSR's. */
  sans?: string[];
  /** The service, when an API token asks (bootstrap tokens name their own). */
  service?: string;
  /** With `generateKey`: also return a PKCS#12 bundle protected by this password. */
  pkcs12Password?: string;
}

export interface IssuedCertificate {
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  profile: string;
  serviceName: string | undefined;
  certificatePem: string;
  /** The issuing CA first, the root last. */
  chainPem: string;
  /** PKCS#8 PEM, only when the key was generated here (never stored). */
  privateKeyPem?: string;
  /** DER PKCS#12, only when asked for with server-side key generation. */
  pkcs12?: Uint8Array;
  /** True when this is a renewal issued earlier, sent again (its first answer was lost). */
  resent?: boolean;
}

/** How the HTTP layer takes part in an issuance beyond its request. */
export interface IssueOptions {
  /** What the HTTP layer started for this request before authenticating it (`startAhead`). */
  ahead?: IssuanceAhead;
  /**
   * Called with the certificate as it will be returned, once its record is on its way to be
   * committed and before the commit is known (again if the commit is retried with a new
   * signature): for rendering the answer while the database commits, one request at a time the
   * round trip the event loop would otherwise sit idle through (BENCHMARKS.md, change 29).
   * Nothing of it may leave before `issue` returns, and what `issue` returns is the certificate
   * to answer with: the same object when the last one prepared is the one committed.
   */
  prepareAnswer?: (issued: IssuedCertificate) => void;
}

export interface IssuanceDependencies {
  hierarchy: CaHierarchy;
  profiles: ProfileCatalog;
  services: ServiceReader;
  certificates: CertificateReader;
  store: IssuanceStore;
  clock: Clock;
  random: RandomSource;
  publicHttpUrl: string;
  /** Keys revoked for compromise are never certified again. */
  blockedKeys: { isKeyBlocked(spkiSha256: string): Promise<boolean> };
  metrics?: OperationMetrics;
}

/** Whose names a request may use, decided from the caller before any key material is looked at. */
interface Subject {
  serviceName: string | undefined;
  policy: NamePolicy;
  /** Names a bootstrap token was narrowed to; every requested name must be one of them. */
  narrowedTo: string[] | undefined;
  bootstrapTokenId: string | undefined;
}

interface KeySource {
  publicKey: EncodedPublicKey;
  keyAlgorithm: KeyAlgorithmName;
  /** SHA-256 of the SubjectPublicKeyInfo of a key the caller chose; undefined for one generated here. */
  spkiSha256: string | undefined;
  csrNames: SubjectAlternativeNames | undefined;
  csrCommonName: string | undefined;
  privateKeyPkcs8: Uint8Array<ArrayBuffer> | undefined;
}

/** PBKDF2 / PKCS#12-MAC iteration count of test-certificate bundles (OpenSSL's default is 2048). */
export const PKCS12_TEST_ITERATIONS = 20_000;

const ISSUING_CAS = new Set(CA_HIERARCHY.filter((d) => d.kind === 'intermediate').map((d) => d.name));

/**
 * The registration authority and the two-phase CA of issuance and renewal: decide (policy,
 * authorization, names, validity), prepare the to-be-signed certificate, lint it, then sign and
 * record it — consuming the bootstrap token — in one transaction. The certificate is returned
 * only after that transaction commits.
 */
export class IssuanceService {
  /** Per issuer, what every leaf shares (issuer name, AKI, signature algorithm, native key). */
  private readonly leafParts = new WeakMap<LoadedIssuer['signer'], LeafIssuerParts>();

  constructor(private readonly deps: IssuanceDependencies) {}

  async issue(context: RequestContext, request: IssueRequest, options: IssueOptions = {}): Promise<IssuedCertificate> {
    const started = this.deps.clock.now().getTime();
    try {
      const issued = await this.issueOnce(context, request, options);
      this.deps.metrics?.certificateIssued(issued.profile, this.deps.profiles.get(issued.profile).issuer, (this.deps.clock.now().getTime() - started) / 1000);
      return issued;
    } catch (error) {
      if (error instanceof DomainError) this.deps.metrics?.issuanceRefused(error.kind);
      throw error;
    }
  }

  /**
   * Started for a lone issuance request before its caller is authenticated, so that the work
   * runs while the caller's token is read instead of after: the CSR's check (`CsrCheckAhead`),
   * and, when the CSR decodes and the bearer has a token's shape, the issuance's transaction
   * (`IssuanceStore.openIssuance`), whose first round trip then overlaps the token's read and
   * the judging (BENCHMARKS.md, change 28). Nothing is decided here: the caller is still
   * authenticated, and the request judged, as without it, and a refusal rolls the transaction back.
   */
  startAhead(csr: string, bearerToken: string): IssuanceAhead {
    const csrCheck = new CsrCheckAhead(csr);
    const keySpkiSha256 = csrCheck.keySpkiSha256;
    if (keySpkiSha256 === undefined || !looksLikeToken(bearerToken)) return new IssuanceAhead(csrCheck, undefined);
    const claim: IssuanceAheadClaim = {
      bootstrapTokenHash: bearerToken.startsWith(BOOTSTRAP_TOKEN_PREFIX) ? hashTokenSecret(bearerToken) : undefined,
      now: this.deps.clock.now(),
      keySpkiSha256,
    };
    const transaction = this.deps.store.openIssuance(claim);
    return new IssuanceAhead(csrCheck, transaction && { claim, transaction });
  }

  /** Renewal over mTLS: same service, names and profile; fresh validity; optionally a new key. */
  async renew(context: RequestContext, request: { csr?: string }): Promise<IssuedCertificate> {
    const started = this.deps.clock.now().getTime();
    try {
      if (!context.principal && context.replacedCertificateSerial !== undefined) {
        return await this.resendRenewal(context, context.replacedCertificateSerial, request);
      }
      const renewed = await this.renewOnce(context, request);
      this.deps.metrics?.certificateRenewed(renewed.profile, (this.deps.clock.now().getTime() - started) / 1000);
      return renewed;
    } catch (error) {
      if (error instanceof DomainError) this.deps.metrics?.issuanceRefused(error.kind);
      throw error;
    }
  }

  private async issueOnce(context: RequestContext, request: IssueRequest, { ahead, prepareAnswer }: IssueOptions): Promise<IssuedCertificate> {
    const opened = ahead?.takeTransaction();
    try {
      const caller = this.authenticated(context);
      const profile = this.deps.profiles.get(request.profile);
      return await this.judgeAndCommit(context, request, ahead?.csrCheck, caller, profile, opened, prepareAnswer);
    } finally {
      // On a refusal: the token is given back and the chain's lock released before the answer.
      await opened?.transaction.abandon();
    }
  }

  private async judgeAndCommit(
    context: RequestContext,
    request: IssueRequest,
    csrCheckedAhead: CsrCheckAhead | undefined,
    caller: Principal,
    profile: CertificateProfile,
    opened: TransactionAhead | undefined,
    prepareAnswer: IssueOptions['prepareAnswer'],
  ): Promise<IssuedCertificate> {
    const subject = await this.resolveSubject(caller, profile, request.service);
    if ((request.csr === undefined) === (request.generateKey === undefined)) {
      throw new DomainError('bad_request', 'give exactly one of csr and generateKey');
    }
    if (request.pkcs12Password !== undefined && request.generateKey === undefined) {
      throw new DomainError('bad_request', 'pkcs12Password goes with generateKey');
    }
    const key = request.csr !== undefined ? await this.keyFromCsr(request.csr, profile, csrCheckedAhead) : await this.generatedKey(request.generateKey ?? '', profile);
    // DNS names are case-insensitive; the certificate carries them in lower case.
    const sans = request.sans !== undefined ? classifyNames(request.sans) : key.csrNames && { ...key.csrNames, dnsNames: key.csrNames.dnsNames.map((n) => n.toLowerCase()) };
    if (!sans) throw new DomainError('bad_request', 'sans is required with generateKey');
    this.checkNames(sans, subject);
    const ttl = request.ttl === undefined ? profile.defaultTtlSeconds : parseRequestedTtl(request.ttl);
    const commonName = key.csrCommonName !== undefined && flattenNames(sans).includes(key.csrCommonName.toLowerCase()) ? key.csrCommonName.toLowerCase() : undefined;
    const issuer = this.deps.hierarchy.get(profile.issuer);
    const now = this.deps.clock.now();
    const template = this.prepare(profile, issuer, key, sans, commonName, validityWindow(now, ttl, profile.maxTtlSeconds, issuer.signer.certificate.notAfter));
    await this.lintOrRefuse(template, issuer, profile, context, caller, opened?.transaction);
    const resultOf = (facts: CertificateFacts) => this.result(facts, profile, subject.serviceName, issuer, key, request.pkcs12Password);
    let prepared: { facts: CertificateFacts; issued: IssuedCertificate } | undefined;
    const pending: PendingIssuance = {
      bootstrapTokenId: subject.bootstrapTokenId,
      now,
      // Checked against the blocked keys in the statement that consumes the token.
      keySpkiSha256: key.spkiSha256,
      sign: async () => signFastLeaf(template, this.issuerParts(issuer)).facts,
      record: (facts) => ({
        certificate: {
          issuerName: profile.issuer,
          serviceName: subject.serviceName,
          profile: profile.name,
          keyAlgorithm: key.keyAlgorithm,
          requestedBy: actorOf(caller).actor,
          facts,
          nextFlagAt: subject.serviceName ? this.firstFlagAt(profile, facts.notBefore, facts.notAfter) : null,
        },
        audit: [
          this.auditEntry(context, caller, 'certificate.issued', facts.serialHex, {
            service: subject.serviceName ?? null,
            profile: profile.name,
            issuer: profile.issuer,
            sans: facts.sans,
            notAfter: facts.notAfter.toISOString(),
            keySource: request.csr !== undefined ? 'csr' : 'server-generated',
            spkiSha256: facts.spkiSha256,
          }),
        ],
      }),
      whileCommitting: (facts) => {
        prepared = undefined;
        const issued = resultOf(facts);
        prepared = { facts, issued };
        prepareAnswer?.(issued);
      },
    };
    let outcome = opened && claimedAhead(opened.claim, pending) ? await opened.transaction.commit(pending) : undefined;
    if (outcome === undefined) {
      // Released first: the queue gives the next transaction the slot the opened one holds.
      await opened?.transaction.abandon();
      outcome = await this.deps.store.commitIssuance(pending);
    }
    if (!outcome.committed) {
      if (outcome.reason === 'key-blocked') throw keyBlocked();
      throw new DomainError('unauthorized', 'the bootstrap token is invalid, expired, revoked or already used');
    }
    return prepared?.facts === outcome.facts ? prepared.issued : resultOf(outcome.facts);
  }

  private async renewOnce(context: RequestContext, request: { csr?: string }): Promise<IssuedCertificate> {
    const caller = this.authenticated(context);
    if (caller.kind !== 'service-certificate') {
      throw new DomainError('unauthorized', 'renewal is authenticated by the current certificate, presented as the TLS client certificate');
    }
    const current = await this.deps.certificates.findBySerial(caller.serialHex);
    if (!current || current.id !== caller.certificateId || !current.serviceName) throw new DomainError('unauthorized', 'the client certificate is not in the inventory');
    const service = await this.deps.services.findService(current.serviceName);
    if (!service?.enabled) throw new DomainError('forbidden', `service ${current.serviceName} is disabled`);
    const profile = this.deps.profiles.get(current.profile);
    const currentNames: SubjectAlternativeNames = current.sans;
    let key: KeySource;
    if (request.csr !== undefined) {
      const fromCsr = await this.keyFromCsr(request.csr, profile);
      if (await this.deps.blockedKeys.isKeyBlocked(fromCsr.spkiSha256)) throw keyBlocked();
      key = fromCsr;
      if (key.csrNames && !sameNames(key.csrNames, currentNames)) {
        throw new DomainError('policy_violation', 'a renewal CSR must ask for exactly the names of the current certificate');
      }
    } else {
      const existing = new x509.X509Certificate(new Uint8Array(current.der));
      const algorithm = current.keyAlgorithm;
      if (!isKeyAlgorithmName(algorithm) || !profile.allowedKeyAlgorithms.includes(algorithm)) {
        throw new DomainError('policy_violation', `the current key algorithm ${algorithm} is no longer allowed by profile ${profile.name}; renew with a new CSR`);
      }
      // The current key was checked when it was certified, and revoking it for compromise revokes this certificate.
      key = { publicKey: existing.publicKey, keyAlgorithm: algorithm, spkiSha256: undefined, csrNames: undefined, csrCommonName: undefined, privateKeyPkcs8: undefined };
    }
    // The policy may have narrowed since the last issuance: renewal never outlives a name's removal.
    this.checkNames(currentNames, { serviceName: service.name, policy: service.policy, narrowedTo: undefined, bootstrapTokenId: undefined });
    if (!service.profiles.includes(profile.name)) throw new DomainError('policy_violation', `service ${service.name} may no longer use profile ${profile.name}`);
    const lifetimeSeconds = Math.max(1, Math.round((current.notAfter.getTime() - current.notBefore.getTime() - NOT_BEFORE_BACKDATE_MS) / 1000));
    const issuer = this.deps.hierarchy.get(profile.issuer);
    const now = this.deps.clock.now();
    const template = this.prepare(profile, issuer, key, currentNames, current.commonName, validityWindow(now, lifetimeSeconds, profile.maxTtlSeconds, issuer.signer.certificate.notAfter));
    await this.lintOrRefuse(template, issuer, profile, context, caller);
    const facts = await this.deps.store.inTransaction(async (tx) => {
      if (!(await tx.supersede(current.id, now))) throw new DomainError('conflict', 'this certificate was already renewed, revoked or expired');
      const facts = signFastLeaf(template, this.issuerParts(issuer)).facts;
      await tx.recordCertificate({
        issuerName: profile.issuer,
        serviceName: service.name,
        profile: profile.name,
        keyAlgorithm: key.keyAlgorithm,
        requestedBy: actorOf(caller).actor,
        facts,
        renewedFromId: current.id,
        nextFlagAt: this.firstFlagAt(profile, facts.notBefore, facts.notAfter),
      });
      await tx.audit([
        this.auditEntry(context, caller, 'certificate.renewed', facts.serialHex, {
          service: service.name,
          profile: profile.name,
          replaces: current.serialHex,
          rekeyed: request.csr !== undefined,
          notAfter: facts.notAfter.toISOString(),
        }),
      ]);
      return facts;
    });
    return this.result(facts, profile, service.name, issuer, key, undefined);
  }

  /**
   * A renewal whose answer was lost: the caller holds the replaced certificate (verified over
   * mTLS) and asks again. It gets the renewal already issued, if that is still active and for
   * the key it asks for (the same key, or its CSR's), and nothing new is signed. Anything else
   * is refused: a replaced certificate never authenticates more than this.
   */
  private async resendRenewal(context: RequestContext, replacedSerial: string, request: { csr?: string }): Promise<IssuedCertificate> {
    const refusal = new DomainError('unauthorized', context.authenticationRefusal ?? 'the client certificate was replaced by a renewal');
    const replaced = await this.deps.certificates.findBySerial(replacedSerial);
    if (!replaced?.renewedBySerial || !replaced.serviceName) throw refusal;
    const renewal = await this.deps.certificates.findBySerial(replaced.renewedBySerial);
    const now = this.deps.clock.now();
    if (!renewal || renewal.status !== 'active' || renewal.notAfter <= now) {
      throw new DomainError('unauthorized', `the client certificate was replaced by ${replaced.renewedBySerial}, which is no longer active`);
    }
    const service = await this.deps.services.findService(replaced.serviceName);
    if (!service?.enabled) throw new DomainError('forbidden', `service ${replaced.serviceName} is disabled`);
    const requestedKey = request.csr !== undefined ? (await parseCsr(request.csr)).spkiSha256 : replaced.spkiSha256;
    if (renewal.spkiSha256 !== requestedKey) {
      throw new DomainError('conflict', `this certificate was already renewed as ${renewal.serialHex} for ${request.csr !== undefined ? 'another' : 'a new'} key; it cannot be renewed again`);
    }
    await this.deps.store.inTransaction((tx) =>
      tx.audit([
        {
          occurredAt: now,
          actor: `mtls:${replaced.serialHex}`,
          actorRole: `service:${replaced.serviceName}`,
          sourceAddress: context.sourceAddress,
          requestId: context.requestId,
          action: 'certificate.renewal_resent',
          targetType: 'certificate',
          targetId: renewal.serialHex,
          details: { service: replaced.serviceName, replaces: replaced.serialHex },
        },
      ]),
    );
    return {
      serialHex: renewal.serialHex,
      notBefore: renewal.notBefore,
      notAfter: renewal.notAfter,
      profile: renewal.profile,
      serviceName: renewal.serviceName,
      certificatePem: derCertificatePem(renewal.der),
      chainPem: this.chainPem(renewal.issuerName),
      resent: true,
    };
  }

  /** PEM of the issuing CA then the root: what is sent with every certificate of `issuerName`. */
  private chainPem(issuerName: IssuerName): string {
    return this.deps.hierarchy.chain(issuerName).map(certificatePem).join('');
  }

  /** When the lifecycle scan should first look at a new certificate. */
  private firstFlagAt(profile: CertificateProfile, notBefore: Date, notAfter: Date): Date | null {
    return thresholdMoments(notBefore, notAfter, this.deps.profiles.thresholdsFor(profile.name))[0]?.at ?? notAfter;
  }

  private authenticated(context: RequestContext): Principal {
    if (!context.principal && context.authenticationRefusal) throw new DomainError('unauthorized', context.authenticationRefusal);
    return requireAuthenticated(context.principal);
  }

  private async resolveSubject(caller: Principal, profile: CertificateProfile, requestedService: string | undefined): Promise<Subject> {
    let serviceName: string | undefined;
    let narrowedTo: string[] | undefined;
    let bootstrapTokenId: string | undefined;
    // A bootstrap token's service was read with the token; an API token's named service is looked up.
    let knownService: ServiceRecord | undefined;
    switch (caller.kind) {
      case 'bootstrap-token':
        if (requestedService !== undefined && requestedService !== caller.serviceName) {
          throw new DomainError('forbidden', `this bootstrap token belongs to service ${caller.serviceName}, not ${requestedService}`);
        }
        serviceName = caller.serviceName;
        narrowedTo = caller.sans.length > 0 ? caller.sans : undefined;
        bootstrapTokenId = caller.tokenId;
        knownService = caller.service;
        break;
      case 'api-token':
        if (caller.role === 'ci') {
          if (!profile.namePolicy || this.environmentOf(profile) !== 'test') throw new DomainError('forbidden', 'ci tokens may only request test certificates');
        } else if (caller.role !== 'admin') {
          throw new DomainError('forbidden', `an API token with role ${caller.role} cannot request certificates`);
        }
        serviceName = requestedService;
        if (!serviceName && !profile.namePolicy) throw new DomainError('bad_request', `service is required for profile ${profile.name}`);
        break;
      case 'service-certificate':
        throw new DomainError('forbidden', 'a service certificate renews itself (POST /v1/certificates/renew); new certificates need a bootstrap or API token');
    }
    const service = knownService ?? (serviceName ? await this.deps.services.findService(serviceName) : undefined);
    if (profile.namePolicy) {
      // Profiles with their own policy (test) need no registered service; names come from the profile.
      if (serviceName !== undefined && !service) throw new DomainError('not_found', `there is no service named ${serviceName}`);
      return { serviceName, policy: profile.namePolicy, narrowedTo, bootstrapTokenId };
    }
    if (!service) throw new DomainError('not_found', `there is no service named ${serviceName ?? ''}`);
    if (!service.enabled) throw new DomainError('forbidden', `service ${service.name} is disabled`);
    if (!service.profiles.includes(profile.name)) {
      throw new DomainError('policy_violation', `service ${service.name} may not use profile ${profile.name} (allowed: ${service.profiles.join(', ')})`);
    }
    return { serviceName: service.name, policy: service.policy, narrowedTo, bootstrapTokenId };
  }

  private environmentOf(profile: CertificateProfile): string | undefined {
    return CA_HIERARCHY.find((d) => d.name === profile.issuer)?.environment;
  }

  /** The CSR's key, if the profile allows its algorithm. Whether it is blocked is the caller's to check (issuance does it in the commit). */
  private async keyFromCsr(csr: string, profile: CertificateProfile, checkedAhead?: CsrCheckAhead): Promise<KeySource & { spkiSha256: string }> {
    const parsed = await (checkedAhead ? checkedAhead.resultFor(csr) : parseCsr(csr));
    if (!profile.allowedKeyAlgorithms.includes(parsed.keyAlgorithm)) {
      throw new DomainError('invalid_csr', `profile ${profile.name} does not allow ${parsed.keyAlgorithm} keys (allowed: ${profile.allowedKeyAlgorithms.join(', ')})`);
    }
    return {
      publicKey: parsed.publicKey,
      keyAlgorithm: parsed.keyAlgorithm,
      spkiSha256: parsed.spkiSha256,
      csrNames: parsed.sans,
      csrCommonName: parsed.commonName,
      privateKeyPkcs8: undefined,
    };
  }

  private async generatedKey(algorithm: string, profile: CertificateProfile): Promise<KeySource> {
    if (!profile.serverSideKeyGeneration) throw new DomainError('forbidden', `profile ${profile.name} does not allow server-side key generation`);
    if (!isKeyAlgorithmName(algorithm) || !profile.allowedKeyAlgorithms.includes(algorithm)) {
      throw new DomainError('bad_request', `generateKey must be one of ${profile.allowedKeyAlgorithms.join(', ')}`);
    }
    const { keyParams, usages } = keyAlgorithmParameters(algorithm);
    const pair = (await nodeCrypto.subtle.generateKey(keyParams, true, usages)) as CryptoKeyPair;
    const spki = await nodeCrypto.subtle.exportKey('spki', pair.publicKey);
    const pkcs8 = new Uint8Array(await nodeCrypto.subtle.exportKey('pkcs8', pair.privateKey));
    return { publicKey: new x509.PublicKey(spki), keyAlgorithm: algorithm, spkiSha256: undefined, csrNames: undefined, csrCommonName: undefined, privateKeyPkcs8: pkcs8 };
  }

  private checkNames(sans: SubjectAlternativeNames, subject: Subject): void {
    checkSanSyntax(sans);
    const refused = findDisallowedName(subject.policy, sans);
    if (refused) {
      const owner = subject.serviceName ? `service ${subject.serviceName}` : 'this profile';
      throw new DomainError('policy_violation', `${refused.value} is not allowed for ${owner}`, { name: refused.value });
    }
    if (subject.narrowedTo) {
      const allowed = new Set(subject.narrowedTo.map((n) => n.toLowerCase()));
      const outside = flattenNames(sans).find((name) => !allowed.has(name.toLowerCase()));
      if (outside) throw new DomainError('policy_violation', `${outside} is not among the names this bootstrap token allows`, { name: outside });
    }
  }

  private prepare(
    profile: CertificateProfile,
    issuer: LoadedIssuer,
    key: KeySource,
    sans: SubjectAlternativeNames,
    commonName: string | undefined,
    window: { notBefore: Date; notAfter: Date },
  ): FastLeafTemplate {
    if (!ISSUING_CAS.has(profile.issuer)) throw new Error(`profile ${profile.name} names a non-issuing CA`);
    const urls = issuerUrls(this.deps.publicHttpUrl, profile.issuer);
    // Encoded straight to DER from precomputed parts; test/unit/domain/x509/fast-leaf.test.ts
    // proves the bytes equal those of @peculiar/x509's generator (leaf-certificate.ts).
    return prepareFastLeaf(
      {
        serialHex: generateSerialNumber(this.deps.random),
        ...window,
        commonName,
        sans,
        subjectPublicKey: key.publicKey,
        keyAlgorithm: key.keyAlgorithm,
        keyUsages: profile.keyUsages,
        extendedKeyUsages: profile.extendedKeyUsages,
        locations: { caIssuersUrl: urls.certificate, crlUrl: urls.crl, ocspUrl: urls.ocsp },
      },
      this.issuerParts(issuer),
    );
  }

  private issuerParts(issuer: LoadedIssuer): LeafIssuerParts {
    let parts = this.leafParts.get(issuer.signer);
    if (!parts) {
      parts = leafIssuerParts(issuer.signer);
      this.leafParts.set(issuer.signer, parts);
    }
    return parts;
  }

  /**
   * A template that fails lint is never signed; the refusal is audited. `opened`, the issuance's
   * transaction when it was opened ahead, is abandoned first: it holds the audit chain's lock.
   */
  private async lintOrRefuse(
    template: FastLeafTemplate,
    issuer: LoadedIssuer,
    profile: CertificateProfile,
    context: RequestContext,
    caller: Principal,
    opened?: OpenedIssuance,
  ): Promise<void> {
    const failures = lintCertificate(template, { issuerCertificate: issuer.signer.certificate, profile });
    if (failures.length === 0) return;
    await opened?.abandon();
    await this.deps.store.inTransaction((tx) =>
      tx.audit([this.auditEntry(context, caller, 'certificate.lint_failed', template.serialHex, { profile: profile.name, failures })]),
    );
    throw new DomainError('lint_failed', `the certificate failed pre-issuance lint: ${failures.map((f) => `${f.ruleId}: ${f.message}`).join('; ')}`);
  }

  private auditEntry(context: RequestContext, caller: Principal, action: string, serialHex: string, details: Record<string, unknown>): AuditEntry {
    return {
      occurredAt: this.deps.clock.now(),
      ...actorOf(caller),
      sourceAddress: context.sourceAddress,
      requestId: context.requestId,
      action,
      targetType: 'certificate',
      targetId: serialHex,
      details,
    };
  }

  private result(
    facts: CertificateFacts,
    profile: CertificateProfile,
    serviceName: string | undefined,
    issuer: LoadedIssuer,
    key: KeySource,
    pkcs12Password: string | undefined,
  ): IssuedCertificate {
    const result: IssuedCertificate = {
      serialHex: facts.serialHex,
      notBefore: facts.notBefore,
      notAfter: facts.notAfter,
      profile: profile.name,
      serviceName,
      certificatePem: derCertificatePem(facts.der),
      chainPem: this.chainPem(issuer.record.name),
    };
    if (key.privateKeyPkcs8) {
      result.privateKeyPem = `${x509.PemConverter.encode(key.privateKeyPkcs8, 'PRIVATE KEY').trim()}\n`;
      if (pkcs12Password !== undefined) {
        result.pkcs12 = buildPkcs12({
          privateKeyPkcs8Der: key.privateKeyPkcs8,
          certificateDer: facts.der,
          chainDer: this.deps.hierarchy.chain(issuer.record.name).map((c) => new Uint8Array(c.rawData)),
          password: pkcs12Password,
          friendlyName: flattenNames(facts.sans)[0],
          random: this.deps.random,
          // Test bundles are made on the request path: a count that keeps one under ~50 ms
          // (the PKCS#12 MAC derivation is a serial hash loop) while still salting and stretching.
          iterations: PKCS12_TEST_ITERATIONS,
        });
      }
    }
    return result;
  }
}

/** Whether the transaction opened ahead was opened for this issuance: its key, and a bootstrap token exactly when it claimed one. */
function claimedAhead(claim: IssuanceAheadClaim, pending: PendingIssuance): boolean {
  return pending.keySpkiSha256 === claim.keySpkiSha256 && (pending.bootstrapTokenId !== undefined) === (claim.bootstrapTokenHash !== undefined);
}

function keyBlocked(): DomainError {
  return new DomainError('policy_violation', 'this public key was revoked for key compromise and cannot be certified again');
}
