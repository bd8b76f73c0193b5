import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { IssuerDto, IssuerListDto, IssuerNameDto, ProblemDto, ReadinessChecksDto } from '../contracts/ca.ts';
import type {
  ApiTokenDto,
  BootstrapTokenDto,
  CertificateDto,
  CertificateListDto,
  CreatedApiTokenDto,
  IssuedCertificateDto,
  ServiceDto,
  ServiceListDto,
} from '../contracts/certificates.ts';
import type {
  AlertDto,
  AlertListDto,
  AlertQueryDto,
  DependenciesDto,
  NotificationListDto,
  NotificationQueryDto,
  SchedulerDto,
} from '../contracts/lifecycle.ts';
import type {
  ApiTokenCreateDto,
  BootstrapTokenRequestDto,
  CertificateQueryDto,
  IssueRequestDto,
  RenewRequestDto,
  ServiceCreateDto,
  ServiceUpdateDto,
} from '../contracts/requests.ts';
import type { KeyRevocationDto, KeyRevocationRequestDto, RevocationRequestDto, ServiceRevocationDto } from '../contracts/revocation.ts';
import { sendHttpRequest, TransportError, type TransportResponse } from './http-transport.ts';
import { DEFAULT_RETRY_POLICY, retryWithBackoff, SYSTEM_RETRY_RUNTIME, type RetryPolicy, type RetryRuntime } from './retry-with-backoff.ts';
import { normalizeFingerprint, sha256Fingerprint } from './sha256-fingerprint.ts';
import {
  RootFingerprintMismatchError,
  TrustrootApiError,
  TrustrootError,
  TrustrootTlsVerificationError,
  TrustrootUnavailableError,
} from './trustroot-errors.ts';
import type { VerifiedCrl } from './verify-crl.ts';

/** A certificate Trustroot issued, held by the service, for mTLS (renewal, its own records). */
export interface ClientCertificate {
  /** PKCS#8 (or traditional) PEM private key. */
  keyPem: string;
  /** The leaf certificate, PEM. */
  certificatePem: string;
  /** The issuing CA (and root), PEM, sent after the leaf so that the CA can build the path. */
  chainPem?: string;
}

/** Told before each retry, e.g. to print progress. */
export interface RetryEvent {
  /** `GET /ca/root.pem`, `POST /v1/certificates`… */
  operation: string;
  /** The attempt that failed (1 = the first). */
  attempt: number;
  delayMs: number;
  /** Why it failed: a network error code or the 503 problem's detail. */
  reason: string;
}

export interface TrustrootConnectOptions {
  /** Base URL of the HTTPS API listener, e.g. `https://trustroot.internal:8443`. */
  caUrl: string;
  /**
   * SHA-256 fingerprint of the root CA certificate: hex, with or without colons, optionally
   * `sha256:`-prefixed, any case. The root is fetched and checked against it before any
   * credential is sent, and is then the only trust anchor of every HTTPS request.
   */
  rootFingerprint: string;
  /**
   * Base URL of the plain-HTTP public listener (CA certificates, CRLs). Default: the host of
   * `caUrl`, port 8080, over `http:` (Trustroot's default listener layout).
   */
  publicUrl?: string;
  /**
   * A root the caller already holds (e.g. the `ca.pem` written at bootstrap): checked against
   * `rootFingerprint` and used instead of fetching it, so that the public listener is not needed.
   */
  rootPem?: string;
  /** API token or single-use bootstrap token, sent as `Authorization: Bearer`. */
  token?: string;
  /** A Trustroot-issued certificate to present in the TLS handshake (mTLS). */
  clientCertificate?: ClientCertificate;
  /** Retries on network errors and 503; default 30 s budget, 250 ms doubling to 5 s, jittered. */
  retry?: Partial<RetryPolicy>;
  /** Bound on each TCP + TLS connection attempt, ms (default 10 000; shortened to the retry budget left). */
  connectTimeoutMs?: number;
  /** Bound on each response once connected, ms (default 60 000: RSA key generation can take seconds). */
  responseTimeoutMs?: number;
  onRetry?: (event: RetryEvent) => void;
  /** Clock, sleep and randomness of the retry loop (tests). */
  runtime?: RetryRuntime;
}

type Listener = 'api' | 'public';

/** How a request authenticates. */
type Authentication =
  /** The token when one is configured (mTLS is presented regardless). */
  | 'token'
  /** Never the token: renewal is authenticated by the client certificate alone, and a bearer token would take precedence. */
  | 'certificate'
  /** Public material: no credentials. */
  | 'none';

interface Operation {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  accept?: string;
  auth: Authentication;
  listener?: Listener;
}

interface Settings {
  caUrl: URL;
  publicUrl: URL;
  rootPem: string;
  rootFingerprint: string;
  token: string | undefined;
  clientCertificate: ClientCertificate | undefined;
  retry: RetryPolicy;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  onRetry: ((event: RetryEvent) => void) | undefined;
  runtime: RetryRuntime;
}

/** Network failures that say nothing about the request itself: worth trying again. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'EPROTO',
]);

const IDEMPOTENT_METHODS = new Set(['GET', 'PUT', 'DELETE']);
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const PROBLEM_JSON = /^application\/problem\+json/i;

/** `http://<caUrl's host>:8080/`: Trustroot's public listener next to its API listener. */
export function defaultPublicUrl(caUrl: string | URL): URL {
  const url = new URL(String(caUrl));
  const derived = new URL(`http://${url.hostname}/`);
  derived.port = '8080';
  return derived;
}

function parseBaseUrl(value: string | URL, what: string, protocols: string[]): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new TrustrootError(`${what} "${String(value)}" is not a URL`);
  }
  if (!protocols.includes(url.protocol)) throw new TrustrootError(`${what} must be an ${protocols.join(' or ')} URL, not ${url.protocol}`);
  if (url.username || url.password) throw new TrustrootError(`${what} must not carry credentials`);
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** Exactly one certificate out of a PEM text, or a `TrustrootError` naming where it came from. */
function singleCertificatePem(pem: string, source: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length !== 1 || blocks[0] === undefined) throw new TrustrootError(`${source} did not return exactly one PEM certificate`);
  return `${blocks[0]}\n`;
}

function headerValue(response: TransportResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The response's problem document, or one made up from the status when the body is not one. */
function problemOf(response: TransportResponse): ProblemDto {
  const requestId = headerValue(response, 'x-request-id') ?? '';
  if (PROBLEM_JSON.test(headerValue(response, 'content-type') ?? '')) {
    try {
      const parsed = JSON.parse(response.body.toString('utf8')) as Partial<ProblemDto> | null;
      if (parsed && typeof parsed === 'object' && typeof parsed.type === 'string' && typeof parsed.status === 'number') {
        return { ...parsed, type: parsed.type, title: parsed.title ?? '', status: parsed.status, requestId: parsed.requestId ?? requestId };
      }
    } catch {
      // Not JSON after all: described from the status below.
    }
  }
  const text = response.body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
  return { type: 'about:blank', title: `HTTP ${response.status}`, status: response.status, detail: text || `HTTP ${response.status}`, requestId };
}

/** `Retry-After` in milliseconds (delta-seconds form only; Trustroot sends that). */
function retryAfterMs(response: TransportResponse): number | undefined {
  const value = headerValue(response, 'retry-after');
  return value !== undefined && /^\d{1,6}$/.test(value.trim()) ? Number(value.trim()) * 1000 : undefined;
}

/** Checks that a client certificate's parts parse and belong together, so that a mix-up fails here, not as a TLS error. */
function checkClientCertificate(certificate: ClientCertificate): void {
  let key;
  let leaf;
  try {
    key = createPrivateKey(certificate.keyPem);
    leaf = new X509Certificate(certificate.certificatePem);
  } catch (error) {
    throw new TrustrootError('the client certificate or its private key cannot be read', { cause: error });
  }
  if (!leaf.checkPrivateKey(key)) throw new TrustrootError('the client private key does not belong to the client certificate');
}

/**
 * Typed client of the Trustroot API (see `openapi.yaml`), used by services at boot, the
 * security team's tooling and CI, and by the `trustroot` CLI.
 *
 * Trust comes from one pinned value: {@link TrustrootClient.connect} fetches the root over plain
 * HTTP, checks its SHA-256 fingerprint, and from then on trusts only that root for HTTPS — never
 * the system store. Requests are retried with jittered exponential backoff on network errors
 * and 503 only; non-idempotent requests only when they cannot have reached the CA. Refusals
 * throw {@link TrustrootApiError} with the RFC 9457 problem; an unreachable CA throws
 * {@link TrustrootUnavailableError} once the retry budget is spent.
 */
export class TrustrootClient {
  private constructor(private readonly settings: Settings) {}

  /**
   * Pins the root and returns a client; sends no credential. Throws
   * {@link RootFingerprintMismatchError} when the root does not match (before any token leaves
   * the process), {@link TrustrootUnavailableError} when the public listener stays unreachable.
   */
  static async connect(options: TrustrootConnectOptions): Promise<TrustrootClient> {
    const caUrl = parseBaseUrl(options.caUrl, 'the CA URL', ['https:']);
    const publicUrl = parseBaseUrl(options.publicUrl ?? defaultPublicUrl(caUrl), 'the public URL', ['http:', 'https:']);
    let expected: string;
    try {
      expected = normalizeFingerprint(options.rootFingerprint);
    } catch (error) {
      throw new TrustrootError(error instanceof Error ? error.message : String(error));
    }
    if (options.clientCertificate) checkClientCertificate(options.clientCertificate);
    const settings: Settings = {
      caUrl,
      publicUrl,
      rootPem: '',
      rootFingerprint: expected,
      token: options.token,
      clientCertificate: options.clientCertificate,
      retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      responseTimeoutMs: options.responseTimeoutMs ?? 60_000,
      onRetry: options.onRetry,
      runtime: options.runtime ?? SYSTEM_RETRY_RUNTIME,
    };
    let rootPem: string;
    let source: string;
    if (options.rootPem !== undefined) {
      source = 'the given root certificate';
      rootPem = singleCertificatePem(options.rootPem, source);
    } else {
      // The bootstrap step of trust: plain HTTP, no credentials, and nothing else happens until
      // the fingerprint matches.
      const anonymous = new TrustrootClient(settings);
      const response = await anonymous.send({ method: 'GET', path: 'ca/root.pem', auth: 'none', listener: 'public', accept: 'application/x-pem-file' });
      source = new URL('ca/root.pem', publicUrl).toString();
      rootPem = singleCertificatePem(response.body.toString('utf8'), source);
    }
    let actual: string;
    try {
      actual = sha256Fingerprint(rootPem);
    } catch (error) {
      throw new TrustrootError(`${source} is not a valid certificate`, { cause: error });
    }
    if (actual !== expected) throw new RootFingerprintMismatchError(expected, actual, source);
    return new TrustrootClient({ ...settings, rootPem });
  }

  /** The pinned root certificate (PEM). */
  get rootPem(): string {
    return this.settings.rootPem;
  }

  /** SHA-256 of the pinned root's DER, lower-case hex. */
  get rootFingerprint(): string {
    return this.settings.rootFingerprint;
  }

  get caUrl(): string {
    return this.settings.caUrl.toString();
  }

  get publicUrl(): string {
    return this.settings.publicUrl.toString();
  }

  /** The same pinned CA with other credentials (no new root fetch). */
  withCredentials(credentials: { token?: string; clientCertificate?: ClientCertificate }): TrustrootClient {
    if (credentials.clientCertificate) checkClientCertificate(credentials.clientCertificate);
    return new TrustrootClient({ ...this.settings, token: credentials.token, clientCertificate: credentials.clientCertificate });
  }

  // --- health and the CA ---------------------------------------------------------------------

  /** `GET /readyz` once, without retries: whether the CA can serve, and which check fails. */
  async readiness(): Promise<{ ready: boolean; checks?: ReadinessChecksDto }> {
    try {
      const body = await this.withoutRetries().json<{ checks: ReadinessChecksDto }>({ method: 'GET', path: 'readyz', auth: 'none' });
      return { ready: true, checks: body.checks };
    } catch (error) {
      if (error instanceof TrustrootUnavailableError && error.problem) {
        const checks = error.problem.checks as ReadinessChecksDto | undefined;
        return { ready: false, ...(checks ? { checks } : {}) };
      }
      throw error;
    }
  }

  /** `GET /v1/ca`: every issuer with fingerprint and validity, roots first. */
  async listIssuers(): Promise<IssuerDto[]> {
    return (await this.json<IssuerListDto>({ method: 'GET', path: 'v1/ca', auth: 'none' })).issuers;
  }

  /** `GET /v1/ca/chain`: PEM of the issuing CA then its root, over the pinned HTTPS. */
  async issuerChain(issuer: 'intermediate' | 'test-intermediate' = 'intermediate'): Promise<string> {
    return this.text({ method: 'GET', path: 'v1/ca/chain', query: { issuer }, auth: 'none', accept: 'application/pem-certificate-chain' });
  }

  /**
   * `GET /ca/{name}.pem` from the public listener, checked against the fingerprint the CA reports
   * over the pinned HTTPS (`GET /v1/ca`), so that plain HTTP cannot substitute it.
   */
  async issuerCertificatePem(name: IssuerNameDto): Promise<string> {
    const [issuers, response] = await Promise.all([
      this.listIssuers(),
      this.send({ method: 'GET', path: `ca/${encodeURIComponent(name)}.pem`, auth: 'none', listener: 'public', accept: 'application/x-pem-file' }),
    ]);
    const source = new URL(`ca/${name}.pem`, this.settings.publicUrl).toString();
    const pem = singleCertificatePem(response.body.toString('utf8'), source);
    const reported = issuers.find((issuer) => issuer.name === name);
    if (!reported) throw new TrustrootError(`the CA reports no issuer named ${name}`);
    const actual = sha256Fingerprint(pem);
    if (actual !== reported.fingerprintSha256.toLowerCase()) throw new RootFingerprintMismatchError(reported.fingerprintSha256.toLowerCase(), actual, source);
    return pem;
  }

  // --- services -----------------------------------------------------------------------------

  /** `POST /v1/services` (admin). */
  createService(service: ServiceCreateDto): Promise<ServiceDto> {
    return this.json({ method: 'POST', path: 'v1/services', body: service, auth: 'token' });
  }

  /** `GET /v1/services` (admin, security, auditor). */
  async listServices(): Promise<ServiceDto[]> {
    return (await this.json<ServiceListDto>({ method: 'GET', path: 'v1/services', auth: 'token' })).services;
  }

  /** `GET /v1/services/{name}` (admin, security, auditor; the service itself over mTLS). */
  getService(name: string): Promise<ServiceDto> {
    return this.json({ method: 'GET', path: `v1/services/${encodeURIComponent(name)}`, auth: 'token' });
  }

  /** `PATCH /v1/services/{name}` (admin). */
  updateService(name: string, update: ServiceUpdateDto): Promise<ServiceDto> {
    return this.json({ method: 'PATCH', path: `v1/services/${encodeURIComponent(name)}`, body: update, auth: 'token' });
  }

  /** `POST /v1/services/{name}/disable` (admin). */
  disableService(name: string): Promise<ServiceDto> {
    return this.json({ method: 'POST', path: `v1/services/${encodeURIComponent(name)}/disable`, auth: 'token' });
  }

  /** `PUT /v1/services/{name}/dependencies` (admin; the service itself over mTLS). */
  setDependencies(name: string, reliesOn: string[]): Promise<DependenciesDto> {
    return this.json({ method: 'PUT', path: `v1/services/${encodeURIComponent(name)}/dependencies`, body: { reliesOn }, auth: 'token' });
  }

  /** `GET /v1/services/{name}/dependencies`. */
  getDependencies(name: string): Promise<DependenciesDto> {
    return this.json({ method: 'GET', path: `v1/services/${encodeURIComponent(name)}/dependencies`, auth: 'token' });
  }

  // --- tokens -------------------------------------------------------------------------------

  /** `POST /v1/services/{name}/bootstrap-tokens` (admin, security): a single-use token, shown once. */
  mintBootstrapToken(service: string, request: BootstrapTokenRequestDto = {}): Promise<BootstrapTokenDto> {
    return this.json({ method: 'POST', path: `v1/services/${encodeURIComponent(service)}/bootstrap-tokens`, body: request, auth: 'token' });
  }

  /** `POST /v1/api-tokens` (admin): the secret is in the answer only. */
  createApiToken(request: ApiTokenCreateDto): Promise<CreatedApiTokenDto> {
    return this.json({ method: 'POST', path: 'v1/api-tokens', body: request, auth: 'token' });
  }

  /** `GET /v1/api-tokens` (admin), without secrets. */
  async listApiTokens(): Promise<ApiTokenDto[]> {
    return (await this.json<{ tokens: ApiTokenDto[] }>({ method: 'GET', path: 'v1/api-tokens', auth: 'token' })).tokens;
  }

  /** `DELETE /v1/api-tokens/{id}` (admin); idempotent. */
  revokeApiToken(id: string): Promise<ApiTokenDto> {
    return this.json({ method: 'DELETE', path: `v1/api-tokens/${encodeURIComponent(id)}`, auth: 'token' });
  }

  // --- certificates -------------------------------------------------------------------------

  /** `POST /v1/certificates`: with a bootstrap token (CSR), an admin token, or a ci token (test profile). */
  issueCertificate(request: IssueRequestDto): Promise<IssuedCertificateDto> {
    return this.json({ method: 'POST', path: 'v1/certificates', body: request, auth: 'token' });
  }

  /**
   * `POST /v1/certificates/renew` over mTLS with the configured client certificate (never the
   * token). With `csr`, the renewal carries the CSR's key.
   */
  renewCertificate(request: RenewRequestDto = {}): Promise<IssuedCertificateDto> {
    if (!this.settings.clientCertificate) throw new TrustrootError('renewal needs the current certificate and key (clientCertificate)');
    return this.json({ method: 'POST', path: 'v1/certificates/renew', body: request, auth: 'certificate' });
  }

  /** `GET /v1/certificates`: one page of the inventory. */
  listCertificates(query: CertificateQueryDto = {}): Promise<CertificateListDto> {
    return this.json({ method: 'GET', path: 'v1/certificates', query: { ...query }, auth: 'token' });
  }

  /** Every page of `GET /v1/certificates`, following `nextCursor`. */
  async *allCertificates(query: CertificateQueryDto = {}): AsyncGenerator<CertificateDto> {
    let cursor = query.cursor;
    do {
      const page = await this.listCertificates({ ...query, ...(cursor !== undefined ? { cursor } : {}) });
      yield* page.certificates;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }

  /** `GET /v1/certificates/{serial}`: one inventory record. */
  getCertificate(serial: string): Promise<CertificateDto> {
    return this.json({ method: 'GET', path: `v1/certificates/${encodeURIComponent(serial)}`, auth: 'token' });
  }

  /** `GET /v1/certificates/{serial}.pem`. */
  getCertificatePem(serial: string): Promise<string> {
    return this.text({ method: 'GET', path: `v1/certificates/${encodeURIComponent(serial)}.pem`, auth: 'token', accept: 'application/x-pem-file' });
  }

  // --- revocation ---------------------------------------------------------------------------

  /** `POST /v1/certificates/{serial}/revoke` (admin, security; the owning service over mTLS). */
  revokeCertificate(serial: string, request: RevocationRequestDto): Promise<CertificateDto> {
    return this.json({ method: 'POST', path: `v1/certificates/${encodeURIComponent(serial)}/revoke`, body: request, auth: 'token' });
  }

  /** `POST /v1/services/{name}/revoke` (admin, security): every certificate, the service disabled. */
  revokeService(name: string, request: RevocationRequestDto): Promise<ServiceRevocationDto> {
    return this.json({ method: 'POST', path: `v1/services/${encodeURIComponent(name)}/revoke`, body: request, auth: 'token' });
  }

  /** `POST /v1/keys/{spkiSha256}/revoke` (admin, security): every certificate of the key, and the key blocked. */
  revokeKey(spkiSha256: string, request: KeyRevocationRequestDto = {}): Promise<KeyRevocationDto> {
    return this.json({ method: 'POST', path: `v1/keys/${encodeURIComponent(spkiSha256)}/revoke`, body: request, auth: 'token' });
  }

  /**
   * The issuer's latest CRL from the public listener (`GET /crl/{issuer}.crl`), verified against
   * the issuer's certificate obtained over the pinned HTTPS.
   */
  async fetchCrl(issuer: IssuerNameDto): Promise<VerifiedCrl> {
    const [response, issuerPem] = await Promise.all([
      this.send({ method: 'GET', path: `crl/${encodeURIComponent(issuer)}.crl`, auth: 'none', listener: 'public', accept: 'application/pkix-crl' }),
      this.pinnedIssuerCertificate(issuer),
    ]);
    // Loaded on first use: @peculiar/x509 takes a noticeable part of a CLI start-up otherwise.
    const { verifyCrl } = await import('./verify-crl.ts');
    return verifyCrl(response.body, issuerPem);
  }

  // --- lifecycle ----------------------------------------------------------------------------

  /** `GET /v1/alerts` (admin, security, auditor), newest first. */
  async listAlerts(query: AlertQueryDto = {}): Promise<AlertDto[]> {
    return (await this.json<AlertListDto>({ method: 'GET', path: 'v1/alerts', query: { ...query }, auth: 'token' })).alerts;
  }

  /** `POST /v1/alerts/{id}/acknowledge` (admin, security); idempotent. */
  acknowledgeAlert(id: string): Promise<AlertDto> {
    return this.json({ method: 'POST', path: `v1/alerts/${encodeURIComponent(id)}/acknowledge`, auth: 'token' });
  }

  /** `GET /v1/notifications` (admin, security, auditor). */
  async listNotifications(query: NotificationQueryDto = {}): Promise<NotificationListDto['notifications']> {
    return (await this.json<NotificationListDto>({ method: 'GET', path: 'v1/notifications', query: { ...query }, auth: 'token' })).notifications;
  }

  /** `GET /v1/scheduler` (admin, security, auditor). */
  async schedulerStatus(): Promise<SchedulerDto['jobs']> {
    return (await this.json<SchedulerDto>({ method: 'GET', path: 'v1/scheduler', auth: 'token' })).jobs;
  }

  /** `GET /metrics` (admin, auditor): Prometheus text. */
  metrics(): Promise<string> {
    return this.text({ method: 'GET', path: 'metrics', auth: 'token', accept: 'text/plain' });
  }

  // --- plumbing -----------------------------------------------------------------------------

  /** The issuer's certificate from the pinned channel only: the root itself, or `/v1/ca/chain`. */
  private async pinnedIssuerCertificate(issuer: IssuerNameDto): Promise<string> {
    if (issuer === 'root') return this.settings.rootPem;
    const chain = await this.issuerChain(issuer === 'intermediate' ? 'intermediate' : 'test-intermediate');
    const blocks = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const wanted = issuer === 'test-root' ? blocks[blocks.length - 1] : blocks[0];
    if (wanted === undefined) throw new TrustrootError(`the CA returned no certificate chain for ${issuer}`);
    return `${wanted}\n`;
  }

  private withoutRetries(): TrustrootClient {
    return new TrustrootClient({ ...this.settings, retry: { ...this.settings.retry, budgetMs: 0 } });
  }

  private async json<T>(operation: Operation): Promise<T> {
    const response = await this.send({ accept: 'application/json', ...operation });
    try {
      return JSON.parse(response.body.toString('utf8')) as T;
    } catch (error) {
      throw new TrustrootError(`${operation.method} /${operation.path} answered ${response.status} with a body that is not JSON`, { cause: error });
    }
  }

  private async text(operation: Operation): Promise<string> {
    return (await this.send(operation)).body.toString('utf8');
  }

  /** One operation with retries; resolves with a 2xx response, throws a typed error otherwise. */
  private async send(operation: Operation): Promise<TransportResponse> {
    const { runtime, retry } = this.settings;
    const label = `${operation.method} /${operation.path}`;
    const deadline = runtime.now() + retry.budgetMs;
    let attempts = 0;
    try {
      return await retryWithBackoff(
        () => {
          attempts += 1;
          return this.attempt(operation, deadline);
        },
        retry,
        {
          retryAfter: (error) => (error instanceof TrustrootUnavailableError && error.retryable ? (error.retryAfterMs ?? 0) : undefined),
          onRetry: ({ attempt, delayMs, error }) =>
            this.settings.onRetry?.({ operation: label, attempt, delayMs, reason: error instanceof Error ? error.message : String(error) }),
        },
        runtime,
      );
    } catch (error) {
      if (error instanceof TrustrootUnavailableError) throw error.withAttempts(attempts);
      throw error;
    }
  }

  private async attempt(operation: Operation, deadline: number): Promise<TransportResponse> {
    const listener = operation.listener ?? 'api';
    const base = listener === 'public' ? this.settings.publicUrl : this.settings.caUrl;
    const url = new URL(operation.path, base);
    for (const [key, value] of Object.entries(operation.query ?? {})) {
      if (value !== undefined && value !== '') url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: operation.accept ?? 'application/json', 'user-agent': 'trustroot-client' };
    if (operation.auth === 'token' && this.settings.token !== undefined) headers.authorization = `Bearer ${this.settings.token}`;
    const body = operation.body !== undefined ? JSON.stringify(operation.body) : undefined;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const certificate = operation.auth !== 'none' ? this.settings.clientCertificate : undefined;
    // The API is trusted through the pinned root alone. The public listener needs no trust (what
    // it serves is checked by fingerprint or signature); if it is behind HTTPS, the system store applies.
    if (listener === 'api' && !this.settings.rootPem) throw new TrustrootError('internal: an API request before the root was pinned');
    let response: TransportResponse;
    try {
      response = await sendHttpRequest({
        url,
        method: operation.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(listener === 'api'
          ? {
              tls: {
                ca: this.settings.rootPem,
                ...(certificate ? { cert: certificate.certificatePem + (certificate.chainPem ?? ''), key: certificate.keyPem } : {}),
              },
            }
          : {}),
        connectTimeoutMs: Math.min(this.settings.connectTimeoutMs, Math.max(1_000, deadline - this.settings.runtime.now())),
        responseTimeoutMs: this.settings.responseTimeoutMs,
        maxResponseBytes: MAX_RESPONSE_BYTES,
      });
    } catch (error) {
      throw this.classifyTransportError(error, operation, url);
    }
    if (response.status === 503) {
      const problem = problemOf(response);
      throw new TrustrootUnavailableError(`${url.origin} is unavailable: ${problem.detail ?? problem.title}`, 1, true, retryAfterMs(response), problem);
    }
    if (response.status >= 400 || response.status < 200) throw new TrustrootApiError(problemOf(response));
    return response;
  }

  private classifyTransportError(error: unknown, operation: Operation, url: URL): Error {
    if (!(error instanceof TransportError)) return error instanceof Error ? error : new TrustrootError(String(error));
    if (error.tlsVerification) return new TrustrootTlsVerificationError(url.origin, error.code, { cause: error });
    if (!NETWORK_ERROR_CODES.has(error.code)) return new TrustrootError(`${operation.method} ${url.origin}/${operation.path} failed: ${error.message}`, { cause: error });
    // A request that may have reached the CA is repeated only when repeating cannot change the
    // outcome: a bootstrap token consumed by a lost answer must not be presented twice.
    const retryable = !error.connected || IDEMPOTENT_METHODS.has(operation.method);
    const message = retryable
      ? `${url.origin} is unreachable (${error.code})`
      : `the connection to ${url.origin} failed (${error.code}) after the request was sent; it may have taken effect`;
    return new TrustrootUnavailableError(message, 1, retryable, undefined, undefined, { cause: error });
  }
}
