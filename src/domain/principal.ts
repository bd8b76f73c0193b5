import type { ApiRole } from './api-role.ts';
import type { IssuerName } from './ca-hierarchy.ts';
import { DomainError } from './errors.ts';
import type { ServiceRecord } from './ports.ts';

/** Who is calling, as established by `auth/` from a bearer token or a client certificate. */
export type Principal =
  | { kind: 'api-token'; tokenId: string; name: string; role: ApiRole }
  | {
      kind: 'bootstrap-token';
      tokenId: string;
      serviceName: string;
      sans: string[];
      expiresAt: Date;
      /** The token's service as it stood when the token was checked (read with it, in one statement). */
      service: ServiceRecord;
    }
  | { kind: 'service-certificate'; certificateId: string; serialHex: string; serviceName: string; issuerName: IssuerName };

/** Audit actor string of a principal (never contains a secret). */
export function actorOf(principal: Principal): { actor: string; actorRole?: string } {
  switch (principal.kind) {
    case 'api-token':
      return { actor: `api-token:${principal.tokenId}`, actorRole: principal.role };
    case 'bootstrap-token':
      return { actor: `bootstrap-token:${principal.tokenId}`, actorRole: `service:${principal.serviceName}` };
    case 'service-certificate':
      return { actor: `mtls:${principal.serialHex}`, actorRole: `service:${principal.serviceName}` };
  }
}

/** Refuses anonymous callers (401). */
export function requireAuthenticated(principal: Principal | undefined): Principal {
  if (!principal) throw new DomainError('unauthorized', 'this operation needs a bearer token or a client certificate');
  return principal;
}

/** Lets through API tokens with one of `roles`; anyone else is refused (401 if anonymous, else 403). */
export function requireRole(principal: Principal | undefined, roles: readonly ApiRole[]): Extract<Principal, { kind: 'api-token' }> {
  const caller = requireAuthenticated(principal);
  if (caller.kind !== 'api-token' || !roles.includes(caller.role)) {
    throw new DomainError('forbidden', `this operation needs an API token with role ${roles.join(' or ')}`);
  }
  return caller;
}
