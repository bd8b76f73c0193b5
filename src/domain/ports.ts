import type { IssuerEnvironment, IssuerName } from './ca-hierarchy.ts';
import type { CrlEntry } from './crl/crl-builder.ts';
import type { RevocationReasonName } from './crl/revocation-reason.ts';
import type { KeyAlgorithmName } from './key-algorithm.ts';
import type { CertificateEventType } from './lifecycle/certificate-event.ts';
import type { NamePolicy } from './name-policy.ts';
import type { ApiRole } from './api-role.ts';
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

/** An audit entry as stored: its place in the chain and the hashes that link it. */
export interface StoredAuditEvent extends AuditEntry {
  seq: bigint;
  prevHash: string | null;
  hash: string;
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
  /** First expiry threshold moment, for service certificates the lifecycle scan watches. */
  nextFlagAt?: Date | null;
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

/* ---------- services ---------- */

export interface ServiceRecord {
  id: string;
  name: string;
  owner: string;
  contact: string | undefined;
  webhookUrl: string | undefined;
  enabled: boolean;
  disabledAt: Date | undefined;
  policy: NamePolicy;
  profiles: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface NewService {
  name: string;
  owner: string;
  contact: string | undefined;
  webhookUrl: string | undefined;
  /** The webhook HMAC secret, sealed (SecretSealer); set together with webhookUrl. */
  webhookSecretSealed?: Uint8Array;
  policy: NamePolicy;
  profiles: string[];
}

export type ServiceChanges = Partial<Omit<NewService, 'name'>> & { enabled?: boolean; disabledAt?: Date | null };

export interface ServiceReader {
  findService(name: string): Promise<ServiceRecord | undefined>;
  listServices(): Promise<ServiceRecord[]>;
}

export interface ServiceWriter {
  /** Creates the service; `conflict` when the name is taken. */
  createService(service: NewService, audit: AuditEntry): Promise<ServiceRecord>;
  /** Applies the changes; undefined when there is no such service. */
  updateService(name: string, changes: ServiceChanges, audit: AuditEntry): Promise<ServiceRecord | undefined>;
}

/* ---------- tokens ---------- */

export interface ApiTokenRecord {
  id: string;
  name: string;
  role: ApiRole;
  createdAt: Date;
  createdBy: string | undefined;
  expiresAt: Date | undefined;
  revokedAt: Date | undefined;
}

export interface BootstrapTokenRecord {
  id: string;
  serviceName: string;
  sans: string[];
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | undefined;
  revokedAt: Date | undefined;
}

/** A bootstrap token with its service, as they stood when the token was read (in one statement). */
export interface BootstrapTokenWithService extends BootstrapTokenRecord {
  service: ServiceRecord;
}

export interface TokenStore {
  createApiToken(token: { name: string; role: ApiRole; tokenHash: string; expiresAt: Date | undefined; createdBy: string | undefined }, audit: AuditEntry): Promise<ApiTokenRecord>;
  findApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | undefined>;
  listApiTokens(): Promise<ApiTokenRecord[]>;
  /** Marks the token revoked (idempotent); undefined when there is no such token. */
  revokeApiToken(id: string, at: Date, audit: AuditEntry): Promise<ApiTokenRecord | undefined>;
  countApiTokens(): Promise<number>;
  createBootstrapToken(token: { serviceName: string; sans: string[]; tokenHash: string; expiresAt: Date; createdBy: string }, audit: AuditEntry): Promise<BootstrapTokenRecord>;
  findBootstrapTokenByHash(tokenHash: string): Promise<BootstrapTokenWithService | undefined>;
}

/* ---------- inventory ---------- */

export type StoredCertificateStatus = 'active' | 'superseded' | 'revoked' | 'expired';

export interface CertificateRecord {
  id: string;
  issuerName: IssuerName;
  serialHex: string;
  serviceName: string | undefined;
  profile: string;
  subjectDn: string;
  commonName: string | undefined;
  sans: { dnsNames: string[]; ipAddresses: string[]; uris: string[] };
  keyAlgorithm: string;
  spkiSha256: string;
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
  status: StoredCertificateStatus;
  issuedAt: Date;
  requestedBy: string | undefined;
  renewedFromSerial: string | undefined;
  renewedBySerial: string | undefined;
  supersededAt: Date | undefined;
  revokedAt: Date | undefined;
  revocationReason: string | undefined;
  der: Uint8Array;
}

export interface CertificateQuery {
  serviceName?: string;
  /** Derived statuses: `expired` means past notAfter and not revoked; `active` means in validity. */
  status?: StoredCertificateStatus;
  profile?: string;
  issuerName?: string;
  expiringBefore?: Date;
  nameContains?: string;
  spkiSha256?: string;
  sort: 'notAfter' | 'issuedAt';
  order: 'asc' | 'desc';
  limit: number;
  /** Opaque position returned as `nextCursor` by the previous page. */
  cursor?: string;
  /** The instant statuses are derived at. */
  now: Date;
}

export interface CertificateReader {
  findByFingerprint(fingerprintSha256: string): Promise<CertificateRecord | undefined>;
  findBySerial(serialHex: string): Promise<CertificateRecord | undefined>;
  listCertificates(query: CertificateQuery): Promise<{ items: CertificateRecord[]; nextCursor: string | undefined }>;
}

/** Writes of one renewal (or a lint refusal's audit entry), all in one database transaction. */
export interface IssuanceTransaction {
  recordCertificate(certificate: NewCertificateRecord & { renewedFromId?: string }): Promise<{ id: string }>;
  /** Marks an active certificate superseded; false when it is not active any more (raced). */
  supersede(certificateId: string, at: Date): Promise<boolean>;
  audit(entries: AuditEntry[]): Promise<void>;
}

/** What an issuance presents before anything is signed: its token, its instant and its key. */
export interface IssuanceClaim {
  /** The bootstrap token the request presented: consumed in the same transaction, or nothing happens. */
  bootstrapTokenId: string | undefined;
  /** The request's instant: a token expired by then is not usable. */
  now: Date;
  /**
   * SHA-256 of the SubjectPublicKeyInfo when the caller chose the key (a CSR): a key blocked for
   * compromise, even a moment ago, is refused in the statement that would consume the token, so
   * nothing is consumed, signed or written. Undefined for a key generated here.
   */
  keySpkiSha256: string | undefined;
}

/**
 * A new certificate, prepared and linted, waiting to be signed and recorded. The store may write
 * it in one transaction together with others that arrive at the same moment (group commit).
 */
export interface PendingIssuance extends IssuanceClaim {
  /**
   * Signs the certificate. Called inside the transaction, only once the token is consumed, with
   * the other signatures of its group; called again if the transaction is retried, and only the
   * committed signature is ever returned.
   */
  sign(): Promise<CertificateFacts>;
  /** What to record for the signed certificate. */
  record(facts: CertificateFacts): { certificate: NewCertificateRecord; audit: AuditEntry[] };
  /**
   * Called once the record of `facts` has been sent to be committed, before the outcome is known:
   * what the caller can prepare while the database commits, which nothing may use before the
   * store's answer says the record committed (a retried transaction calls it again, with the
   * facts of its own signature). Must not throw: the store ignores what it throws.
   */
  whileCommitting?(facts: CertificateFacts): void;
}

/**
 * What an issuance request presents before its caller is even authenticated: the hash of its
 * bearer token when that is a bootstrap token (undefined for an API token), its instant, and the
 * SHA-256 of its CSR's key as decoded (not yet checked).
 */
export interface IssuanceAheadClaim {
  bootstrapTokenHash: string | undefined;
  now: Date;
  keySpkiSha256: string;
}

/**
 * The transaction of a lone issuance, opened before its request is authenticated and judged
 * (`openIssuance`). The caller ends it with one of the two: `commit` once the request is judged
 * fit, `abandon` on any refusal (the store also gives it up, rolled back, if no decision comes in
 * time). Until then it holds the token's row and the audit chain's lock, so nothing else may
 * append to the chain on the caller's behalf in between (abandon first).
 */
export interface OpenedIssuance {
  /**
   * Signs and commits as `commitIssuance` does, in the transaction already open. The issuance
   * must be the one claimed: its key the claimed key, its bootstrap token the one of the claimed
   * hash (else the token is unusable to it), and a token exactly when a hash was claimed.
   * Undefined, with nothing signed, when the store gave the transaction up before (it held the
   * audit chain's lock too long): the caller then commits through `commitIssuance`.
   */
  commit(pending: PendingIssuance): Promise<IssuanceCommitOutcome | undefined>;
  /** Rolls back, so that nothing of the claim is consumed or written; resolves once rolled back. A no-op once committed. */
  abandon(): Promise<void>;
}

export type IssuanceCommitOutcome = { committed: true; facts: CertificateFacts } | { committed: false; reason: 'bootstrap-token-unusable' | 'key-blocked' };

export interface IssuanceStore {
  /**
   * Runs `work` in one transaction: everything it records commits together, or nothing does
   * (a thrown error rolls back). The caller only releases a certificate after this resolves.
   */
  inTransaction<T>(work: (tx: IssuanceTransaction) => Promise<T>): Promise<T>;
  /**
   * Consumes the token, signs, and records the certificate with its audit entries, committed
   * before this resolves. When the key is blocked, or the token is no longer usable (used,
   * revoked or expired, perhaps by a concurrent request), nothing is consumed, signed or written.
   */
  commitIssuance(pending: PendingIssuance): Promise<IssuanceCommitOutcome>;
  /**
   * Opens the transaction of an issuance that would be written alone (no other issuance in
   * flight or waiting) and sends its first round trip at once — the claimed token consumed unless
   * the key is blocked, the key's blocked status read, the audit chain locked — so that it runs
   * while the caller is authenticated and the request judged; undefined when other issuances
   * are in flight (`commitIssuance` then groups them). What the token and the key turned out to
   * be is only told by `commit`, so the caller's refusals keep their order; nothing is signed
   * until the token is consumed, as with `commitIssuance`; and a refusal or `abandon` rolls the
   * consumption back.
   */
  openIssuance(claim: IssuanceAheadClaim): OpenedIssuance | undefined;
}

/* ---------- revocation, CRLs, OCSP ---------- */

/** Writes of one revocation (of a certificate, a service or a key), in one database transaction. */
export interface RevocationTransaction {
  /** The certificate, locked against concurrent revocation until the transaction ends. */
  lockCertificate(serialHex: string): Promise<CertificateRecord | undefined>;
  /** Unexpired (at `now`) certificates of a service, revoked ones included, locked. */
  lockUnexpiredCertificatesOfService(serviceName: string, now: Date): Promise<CertificateRecord[]>;
  /** Unexpired (at `now`) certificates carrying a public key, revoked ones included, locked. */
  lockUnexpiredCertificatesWithKey(spkiSha256: string, now: Date): Promise<CertificateRecord[]>;
  markRevoked(certificateId: string, revocation: { revokedAt: Date; reason: RevocationReasonName; invalidityDate: Date | undefined }): Promise<void>;
  /** Disables the service; false when there is no such service. */
  disableService(serviceName: string, at: Date): Promise<boolean>;
  /** Revokes the service's unused bootstrap tokens; returns how many. */
  revokeBootstrapTokens(serviceName: string, at: Date): Promise<number>;
  blockKey(spkiSha256: string, reason: RevocationReasonName, at: Date, by: string): Promise<void>;
  /** Adds notifications to the outbox, in this transaction (no alert attached). */
  enqueueNotifications(notifications: NewNotification[], at: Date): Promise<void>;
  audit(entries: AuditEntry[]): Promise<void>;
}

export interface RevocationStore {
  inTransaction<T>(work: (tx: RevocationTransaction) => Promise<T>): Promise<T>;
  isKeyBlocked(spkiSha256: string): Promise<boolean>;
}

/** A published CRL as stored. */
export interface StoredCrl {
  issuerName: IssuerName;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entryCount: number;
  der: Uint8Array;
}

export interface CrlStore {
  /**
   * Publishes the next CRL of an issuer: under a per-issuer lock (so that replicas never reuse
   * a number), reads the revoked, unexpired entries and the last CRL number, lets `build` sign
   * CRL number last+1, stores it and the audit entry, and returns it.
   */
  publish(
    issuerName: IssuerName,
    /** Read once the lock is held, so that a higher CRL number never carries an earlier thisUpdate. */
    thisUpdate: () => Date,
    build: (crlNumber: bigint, entries: CrlEntry[], thisUpdate: Date) => Promise<{ der: Uint8Array; nextUpdate: Date }>,
    audit: (crl: StoredCrl) => AuditEntry,
  ): Promise<StoredCrl>;
  latest(issuerName: IssuerName): Promise<StoredCrl | undefined>;
  /** True when a revocation under the issuer is not yet in a published CRL. */
  isStale(issuerName: IssuerName): Promise<boolean>;
}

/** What OCSP needs to know about one serial of one issuer, read fresh for every request. */
export interface RevocationStatusReader {
  statusOf(issuerName: IssuerName, serialHex: string): Promise<
    { known: false } | { known: true; revokedAt: Date | undefined; reason: RevocationReasonName | undefined; notAfter: Date }
  >;
}

/* ---------- lifecycle: expiry flags, notifications, scheduled jobs ---------- */

/** A certificate the expiry scan must look at now. */
export interface DueCertificate {
  id: string;
  serialHex: string;
  issuerName: IssuerName;
  serviceName: string;
  profile: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * An outbox row to create together with an alert. It holds no event: the outbox builds the
 * event from the alert (threshold, moment) and its certificate when the row is read
 * (`certificateEventPayload`), so that flagging writes as little as it can.
 */
export interface FlagNotification {
  recipientService: string;
  eventType: CertificateEventType;
  idempotencyKey: string;
}

/** An outbox row for an event without an alert (a revocation), with the event to send. */
export interface NewNotification extends FlagNotification {
  payload: Record<string, unknown>;
}

export interface NewFlag {
  threshold: string;
  flaggedAt: Date;
  /** Created only if the flag is new (a re-run never duplicates). */
  notifications: FlagNotification[];
}

/** The flags one certificate raises in a scan, and when to look at it next. */
export interface CertificateFlags {
  certificateId: string;
  flags: NewFlag[];
  nextFlagAt: Date | null;
}

export interface LifecycleStore {
  /** Active service certificates whose next flag time has come, oldest first, at most `limit`. */
  dueForFlagging(now: Date, limit: number): Promise<DueCertificate[]>;
  /**
   * In one transaction for the whole batch: inserts each flag unless (certificate, threshold)
   * exists, and the notifications of the new ones (the transactional outbox); sets each
   * certificate's next flag time.
   * @returns how many flags were new.
   */
  recordFlags(batch: CertificateFlags[]): Promise<number>;
  /** Marks active certificates past notAfter as expired; returns those it changed, at most `limit`. */
  markExpired(now: Date, limit: number): Promise<DueCertificate[]>;
}

export interface ServiceGraph {
  /** Services that declared they rely on `serviceName`. */
  dependentsOf(serviceName: string): Promise<string[]>;
  reliesOn(serviceName: string): Promise<string[]>;
  /** Replaces the declared dependencies; `not_found` naming an unknown service. */
  setReliesOn(serviceName: string, reliesOn: string[], audit: AuditEntry): Promise<void>;
}

export interface PendingNotification {
  id: string;
  recipientService: string;
  webhookUrl: string | undefined;
  /** Sealed per-service HMAC secret (see SecretSealer); undefined when the service has none. */
  webhookSecretSealed: Uint8Array | undefined;
  eventType: string;
  idempotencyKey: string;
  payload: Record<string, unknown>;
  attempts: number;
}

export interface NotificationOutbox {
  /**
   * Claims up to `limit` pending notifications whose next attempt is due, hiding them from
   * other claimers until `leaseUntil` (a crash mid-delivery leaves them pending, not lost).
   */
  claimDue(now: Date, limit: number, leaseUntil: Date): Promise<PendingNotification[]>;
  markDelivered(id: string, at: Date): Promise<void>;
  /** Records a failed attempt; `nextAttemptAt` undefined dead-letters it. */
  markFailed(id: string, error: string, attempts: number, nextAttemptAt: Date | undefined): Promise<void>;
}

/** Seals small secrets (webhook HMAC keys) under the key-encryption key; `context` is bound in. */
export interface SecretSealer {
  seal(secret: string, context: string): Uint8Array;
  open(sealed: Uint8Array, context: string): string;
}

/** Outbound HTTP for webhooks; an adapter bounds the time and never follows redirects. */
export interface WebhookSender {
  post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number }>;
}

export interface JobRunRecord {
  id: string;
  job: string;
  scheduledFor: Date;
  startedAt: Date;
  finishedAt: Date | undefined;
  durationMs: number | undefined;
  outcome: 'running' | 'succeeded' | 'failed' | 'skipped';
  items: number;
  error: string | undefined;
}

export interface JobRunStore {
  /**
   * Claims the run of `job` for the tick `scheduledFor`: exactly one claimer across replicas
   * wins, and none while an unfinished run of the job started after `staleBefore` exists.
   * @returns the run id, or undefined when this replica must skip the tick.
   */
  claim(job: string, scheduledFor: Date, startedAt: Date, staleBefore: Date): Promise<string | undefined>;
  finish(id: string, outcome: 'succeeded' | 'failed', finishedAt: Date, items: number, error: string | undefined): Promise<void>;
  recent(job: string, limit: number): Promise<JobRunRecord[]>;
}

export interface AlertRecord {
  id: string;
  certificateSerial: string;
  serviceName: string | undefined;
  threshold: string;
  state: 'open' | 'acknowledged' | 'resolved';
  flaggedAt: Date;
  notAfter: Date;
  acknowledgedAt: Date | undefined;
  acknowledgedBy: string | undefined;
  resolvedAt: Date | undefined;
}

export interface AlertStore {
  listAlerts(filter: { state?: AlertRecord['state']; serviceName?: string; threshold?: string; limit: number }): Promise<AlertRecord[]>;
  /** Acknowledges an open alert (idempotent for an acknowledged one); undefined when there is none. */
  acknowledge(id: string, at: Date, by: string, audit: AuditEntry): Promise<AlertRecord | undefined>;
}

export interface NotificationRecord {
  id: string;
  recipientService: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | undefined;
  deliveredAt: Date | undefined;
  createdAt: Date;
  idempotencyKey: string;
  payload: Record<string, unknown>;
}

export interface NotificationReader {
  listNotifications(filter: { status?: NotificationRecord['status']; serviceName?: string; limit: number }): Promise<NotificationRecord[]>;
}

/* ---------- audit trail ---------- */

export interface AuditQuery {
  action?: string;
  actor?: string;
  targetType?: string;
  targetId?: string;
  since?: Date;
  until?: Date;
  /** Events with seq greater than this (the previous page's last seq). */
  afterSeq?: bigint;
  limit: number;
}

export interface AuditReader {
  listEvents(query: AuditQuery): Promise<StoredAuditEvent[]>;
  /** Every event in seq order, `batchSize` at a time, until `visit` returns false. */
  walk(batchSize: number, visit: (events: StoredAuditEvent[]) => boolean): Promise<void>;
}
