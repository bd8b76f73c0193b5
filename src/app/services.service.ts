import type { Clock, RandomSource } from '../domain/clock.ts';
import { DomainError } from '../domain/errors.ts';
import type { NamePolicy } from '../domain/name-policy.ts';
import { validateNamePolicy } from '../domain/name-policy-check.ts';
import type { SecretSealer, ServiceChanges, ServiceReader, ServiceRecord, ServiceWriter } from '../domain/ports.ts';
import { actorOf, requireAuthenticated, requireRole } from '../domain/principal.ts';
import type { ProfileCatalog } from '../domain/profile-catalog.ts';
import { checkWebhookUrl } from '../domain/webhook-url.ts';
import type { RequestContext } from './request-context.ts';

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export interface ServiceInput {
  name: string;
  owner: string;
  contact?: string;
  webhookUrl?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
  profiles?: string[];
}

export type ServiceUpdate = Partial<Omit<ServiceInput, 'name'>> & { enabled?: boolean };

/** Registration and administration of services (the identities that own certificates). */
/** A service record, plus its new webhook secret when this call created one (shown once). */
export type ServiceWithSecret = ServiceRecord & { webhookSecret?: string };

export class ServiceAdministration {
  constructor(
    private readonly services: ServiceReader & ServiceWriter,
    private readonly profiles: ProfileCatalog,
    private readonly clock: Clock,
    private readonly sealer: SecretSealer,
    private readonly random: RandomSource,
  ) {}

  /** A fresh HMAC secret for a service's webhook, and its sealed form for storage. */
  private newWebhookSecret(serviceName: string): { secret: string; sealed: Uint8Array } {
    const secret = `whsec_${Buffer.from(this.random.bytes(32)).toString('base64url')}`;
    return { secret, sealed: this.sealer.seal(secret, `webhook:${serviceName}`) };
  }

  private checkPolicy(policy: NamePolicy): void {
    const problems = validateNamePolicy(policy);
    if (problems.length > 0) throw new DomainError('bad_request', `invalid name policy: ${problems.join('; ')}`);
  }

  private checkProfiles(profiles: string[]): void {
    for (const name of profiles) {
      const profile = this.profiles.get(name);
      if (profile.namePolicy) {
        throw new DomainError('bad_request', `profile ${name} has its own name policy and is not assigned to services`);
      }
    }
  }

  /** Admin only. The name is the service's identity and never changes. */
  async create(context: RequestContext, input: ServiceInput): Promise<ServiceWithSecret> {
    const caller = requireRole(context.principal, ['admin']);
    if (!SERVICE_NAME.test(input.name)) {
      throw new DomainError('bad_request', 'name must be lower-case letters, digits and hyphens, starting with a letter (at most 63)');
    }
    const policy: NamePolicy = { dnsNames: input.dnsNames ?? [], ipAddresses: input.ipAddresses ?? [], uris: input.uris ?? [] };
    this.checkPolicy(policy);
    const profiles = input.profiles ?? ['peer'];
    this.checkProfiles(profiles);
    if (input.webhookUrl !== undefined) checkWebhookUrl(input.webhookUrl);
    const webhook = input.webhookUrl !== undefined ? this.newWebhookSecret(input.name) : undefined;
    const created = await this.services.createService(
      { name: input.name, owner: input.owner, contact: input.contact, webhookUrl: input.webhookUrl, webhookSecretSealed: webhook?.sealed, policy, profiles },
      {
        occurredAt: this.clock.now(),
        ...actorOf(caller),
        sourceAddress: context.sourceAddress,
        requestId: context.requestId,
        action: 'service.created',
        targetType: 'service',
        targetId: input.name,
        details: { owner: input.owner, policy, profiles, webhookUrl: input.webhookUrl ?? null },
      },
    );
    return webhook ? { ...created, webhookSecret: webhook.secret } : created;
  }

  /** Admin, security and auditor read every service; a service reads itself over mTLS. */
  async get(context: RequestContext, name: string): Promise<ServiceRecord> {
    const caller = requireAuthenticated(context.principal);
    const ownService = caller.kind === 'service-certificate' && caller.serviceName === name;
    if (!ownService) requireRole(caller, ['admin', 'security', 'auditor']);
    const service = await this.services.findService(name);
    if (!service) throw new DomainError('not_found', `there is no service named ${name}`);
    return service;
  }

  async list(context: RequestContext): Promise<ServiceRecord[]> {
    requireRole(context.principal, ['admin', 'security', 'auditor']);
    return this.services.listServices();
  }

  /** Admin only. `enabled: false` disables the service: no issuance or renewal until re-enabled. */
  async update(context: RequestContext, name: string, update: ServiceUpdate): Promise<ServiceWithSecret> {
    const caller = requireRole(context.principal, ['admin']);
    const existing = await this.services.findService(name);
    if (!existing) throw new DomainError('not_found', `there is no service named ${name}`);
    const changes: ServiceChanges = {};
    if (update.owner !== undefined) changes.owner = update.owner;
    if (update.contact !== undefined) changes.contact = update.contact;
    let webhook: { secret: string; sealed: Uint8Array } | undefined;
    if (update.webhookUrl !== undefined) {
      checkWebhookUrl(update.webhookUrl);
      changes.webhookUrl = update.webhookUrl;
      // A new endpoint gets a new secret: whoever held the old one cannot sign for the new.
      webhook = this.newWebhookSecret(name);
      changes.webhookSecretSealed = webhook.sealed;
    }
    if (update.dnsNames !== undefined || update.ipAddresses !== undefined || update.uris !== undefined) {
      changes.policy = {
        dnsNames: update.dnsNames ?? existing.policy.dnsNames,
        ipAddresses: update.ipAddresses ?? existing.policy.ipAddresses,
        uris: update.uris ?? existing.policy.uris,
      };
      this.checkPolicy(changes.policy);
    }
    if (update.profiles !== undefined) {
      this.checkProfiles(update.profiles);
      changes.profiles = update.profiles;
    }
    if (update.enabled !== undefined && update.enabled !== existing.enabled) {
      changes.enabled = update.enabled;
      changes.disabledAt = update.enabled ? null : this.clock.now();
    }
    const action = changes.enabled === false ? 'service.disabled' : changes.enabled === true ? 'service.enabled' : 'service.updated';
    const updated = await this.services.updateService(name, changes, {
      occurredAt: this.clock.now(),
      ...actorOf(caller),
      sourceAddress: context.sourceAddress,
      requestId: context.requestId,
      action,
      targetType: 'service',
      targetId: name,
      details: { changes: { ...update } },
    });
    if (!updated) throw new DomainError('not_found', `there is no service named ${name}`);
    return webhook ? { ...updated, webhookSecret: webhook.secret } : updated;
  }
}
