import type { Principal } from '../domain/principal.ts';

/** What a use case knows about the request that triggered it, for authorization and audit. */
export interface RequestContext {
  principal: Principal | undefined;
  /** Why a presented client certificate was not accepted, if one was (shown on a 401). */
  authenticationRefusal?: string;
  /** Serial of a presented client certificate that a renewal replaced (see Authentication). */
  replacedCertificateSerial?: string;
  requestId?: string;
  sourceAddress?: string;
}
