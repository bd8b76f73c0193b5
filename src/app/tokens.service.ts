import type { Clock, RandomSource } from '../domain/clock.ts';
import { DomainError } from '../domain/errors.ts';
import { findDisallowedName, checkSanSyntax } from '../domain/name-policy-check.ts';
import type { ApiTokenRecord, ServiceReader, TokenStore } from '../domain/ports.ts';
import { API_ROLES, type ApiRole } from '../domain/api-role.ts';
import { actorOf, requireRole } from '../domain/principal.ts';
import { classifyNames } from '../domain/san-list.ts';
import { API_TOKEN_PREFIX, BOOTSTRAP_TOKEN_PREFIX, generateTokenSecret, hashTokenSecret, looksLikeToken } from '../domain/token-secret.ts';
import { parseRequestedTtl } from '../domain/validity.ts';
import type { RequestContext } from './request-context.ts';

/** Bootstrap tokens live 15 minutes unless asked otherwise, and never more than a day. */
export const BOOTSTRAP_TOKEN_DEFAULT_TTL_SECONDS = 15 * 60;
export const BOOTSTRAP_TOKEN_MAX_TTL_SECONDS = 24 * 3600;

export interface CreatedApiToken {
  record: ApiTokenRecord;
  /** The secret, shown once. */
  token: string;
}

export interface MintedBootstrapToken {
  id: string;
  token: string;
  serviceName: string;
  sans: string[];
  expiresAt: Date;
}

/** API tokens (roles) and single-use bootstrap tokens. Secrets are returned once and stored hashed. */
export class TokenAdministration {
  constructor(
    private readonly tokens: TokenStore,
    private readonly services: ServiceReader,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  async createApiToken(context: RequestContext, input: { role: string; name: string; ttl?: number | string }): Promise<CreatedApiToken> {
    const caller = requireRole(context.principal, ['admin']);
    if (!(API_ROLES as readonly string[]).includes(input.role)) throw new DomainError('bad_request', `role must be one of ${API_ROLES.join(', ')}`);
    const now = this.clock.now();
    const expiresAt = input.ttl === undefined ? undefined : new Date(now.getTime() + parseRequestedTtl(input.ttl) * 1000);
    const token = generateTokenSecret(API_TOKEN_PREFIX, this.random);
    const record = await this.tokens.createApiToken(
      { name: input.name, role: input.role as ApiRole, tokenHash: hashTokenSecret(token), expiresAt, createdBy: actorOf(caller).actor },
      {
        occurredAt: now,
        ...actorOf(caller),
        sourceAddress: context.sourceAddress,
        requestId: context.requestId,
        action: 'api_token.created',
        targetType: 'api_token',
        details: { name: input.name, role: input.role, expiresAt: expiresAt?.toISOString() ?? null },
      },
    );
    return { record, token };
  }

  async listApiTokens(context: RequestContext): Promise<ApiTokenRecord[]> {
    requireRole(context.principal, ['admin']);
    return this.tokens.listApiTokens();
  }

  async revokeApiToken(context: RequestContext, id: string): Promise<ApiTokenRecord> {
    const caller = requireRole(context.principal, ['admin']);
    const now = this.clock.now();
    const record = await this.tokens.revokeApiToken(id, now, {
      occurredAt: now,
      ...actorOf(caller),
      sourceAddress: context.sourceAddress,
      requestId: context.requestId,
      action: 'api_token.revoked',
      targetType: 'api_token',
      targetId: id,
      details: {},
    });
    if (!record) throw new DomainError('not_found', `there is no API token ${id}`);
    return record;
  }

  /**
   * The first admin token, created together with a new CA: the configured value
   * (TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN, for automation) or a random one, returned to print once.
   */
  async createInitialAdminToken(configured: string | undefined): Promise<string> {
    if (configured !== undefined && !(configured.startsWith(API_TOKEN_PREFIX) && looksLikeToken(configured))) {
      throw new DomainError('bad_request', `TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN must look like ${API_TOKEN_PREFIX} followed by 43 base64url characters`);
    }
    const token = configured ?? generateTokenSecret(API_TOKEN_PREFIX, this.random);
    await this.tokens.createApiToken(
      { name: 'initial-admin', role: 'admin', tokenHash: hashTokenSecret(token), expiresAt: undefined, createdBy: 'system' },
      {
        occurredAt: this.clock.now(),
        actor: 'system',
        action: 'api_token.created',
        targetType: 'api_token',
        details: { name: 'initial-admin', role: 'admin', source: configured ? 'TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN' : 'generated' },
      },
    );
    return token;
  }

  /** Admin or security: a single-use token for one service, optionally narrowed to some of its names. */
  async mintBootstrapToken(context: RequestContext, serviceName: string, input: { ttl?: number | string; sans?: string[] }): Promise<MintedBootstrapToken> {
    const caller = requireRole(context.principal, ['admin', 'security']);
    const service = await this.services.findService(serviceName);
    if (!service) throw new DomainError('not_found', `there is no service named ${serviceName}`);
    if (!service.enabled) throw new DomainError('forbidden', `service ${serviceName} is disabled`);
    const ttl = input.ttl === undefined ? BOOTSTRAP_TOKEN_DEFAULT_TTL_SECONDS : parseRequestedTtl(input.ttl);
    if (ttl > BOOTSTRAP_TOKEN_MAX_TTL_SECONDS) throw new DomainError('bad_request', `ttl must be at most ${BOOTSTRAP_TOKEN_MAX_TTL_SECONDS} seconds`);
    const sans = input.sans ?? [];
    if (sans.length > 0) {
      const classified = classifyNames(sans);
      checkSanSyntax(classified);
      const refused = findDisallowedName(service.policy, classified);
      if (refused) throw new DomainError('policy_violation', `${refused.value} is not allowed for service ${serviceName}`, { name: refused.value });
    }
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + ttl * 1000);
    const token = generateTokenSecret(BOOTSTRAP_TOKEN_PREFIX, this.random);
    const record = await this.tokens.createBootstrapToken(
      { serviceName, sans: sans.map((n) => (classifyNames([n]).dnsNames.length ? n.toLowerCase() : n)), tokenHash: hashTokenSecret(token), expiresAt, createdBy: actorOf(caller).actor },
      {
        occurredAt: now,
        ...actorOf(caller),
        sourceAddress: context.sourceAddress,
        requestId: context.requestId,
        action: 'bootstrap_token.minted',
        targetType: 'bootstrap_token',
        details: { service: serviceName, sans, expiresAt: expiresAt.toISOString() },
      },
    );
    return { id: record.id, token, serviceName, sans: record.sans, expiresAt };
  }
}
