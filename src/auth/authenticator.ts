import { PRODUCTION_ISSUER } from '../domain/ca-hierarchy.ts';
import type { Clock } from '../domain/clock.ts';
import { DomainError } from '../domain/errors.ts';
import type { CertificateReader, ServiceReader, TokenStore } from '../domain/ports.ts';
import type { Principal } from '../domain/principal.ts';
import { API_TOKEN_PREFIX, hashTokenSecret, looksLikeToken } from '../domain/token-secret.ts';
import { sha256Hex } from '../domain/sha256-hex.ts';

export interface Credentials {
  /** The value after `Authorization: Bearer`, if any. */
  bearerToken: string | undefined;
  /** DER of the client certificate from the TLS handshake, if one was presented. */
  clientCertificateDer: Uint8Array | undefined;
  /** Whether TLS verified that certificate against Trustroot's CAs. */
  clientCertificateVerified: boolean;
}

export interface Authentication {
  principal: Principal | undefined;
  /** Why a presented client certificate was not accepted (for a 401's detail). */
  refusal?: string;
  /**
   * A verified client certificate that a renewal replaced: it authenticates nothing, but its
   * holder may fetch that renewal again (a renewal whose answer was lost), and only that.
   */
  replacedCertificateSerial?: string;
}

const INVALID_TOKEN = 'the bearer token is invalid, expired, revoked or already used';

/**
 * One authentication interface, several methods: API tokens (with a role), single-use bootstrap
 * tokens, and client certificates issued by Trustroot. A bearer token, when present, decides;
 * a bad one is a 401 on any route. A client certificate that is not in good standing simply
 * authenticates no one (public routes stay public for it).
 */
export class Authenticator {
  constructor(
    private readonly tokens: TokenStore,
    private readonly certificates: CertificateReader,
    private readonly services: ServiceReader,
    private readonly clock: Clock,
  ) {}

  async authenticate(credentials: Credentials): Promise<Authentication> {
    if (credentials.bearerToken !== undefined) {
      return { principal: await this.fromBearerToken(credentials.bearerToken) };
    }
    if (credentials.clientCertificateDer !== undefined) {
      return this.fromClientCertificate(credentials.clientCertificateDer, credentials.clientCertificateVerified);
    }
    return { principal: undefined };
  }

  private async fromBearerToken(secret: string): Promise<Principal> {
    if (!looksLikeToken(secret)) throw new DomainError('unauthorized', INVALID_TOKEN);
    const hash = hashTokenSecret(secret);
    const now = this.clock.now();
    if (secret.startsWith(API_TOKEN_PREFIX)) {
      const token = await this.tokens.findApiTokenByHash(hash);
      if (!token || token.revokedAt || (token.expiresAt && token.expiresAt <= now)) throw new DomainError('unauthorized', INVALID_TOKEN);
      return { kind: 'api-token', tokenId: token.id, name: token.name, role: token.role };
    }
    const token = await this.tokens.findBootstrapTokenByHash(hash);
    if (!token || token.usedAt || token.revokedAt || token.expiresAt <= now) throw new DomainError('unauthorized', INVALID_TOKEN);
    return { kind: 'bootstrap-token', tokenId: token.id, serviceName: token.serviceName, sans: token.sans, expiresAt: token.expiresAt, service: token.service };
  }

  private async fromClientCertificate(der: Uint8Array, verified: boolean): Promise<Authentication> {
    if (!verified) return { principal: undefined, refusal: 'the client certificate was not issued by Trustroot' };
    const record = await this.certificates.findByFingerprint(sha256Hex(der));
    if (!record || !record.serviceName) return { principal: undefined, refusal: 'the client certificate is not a service certificate of this CA' };
    // Test certificates never authenticate: they must not be valid where production identities are.
    if (record.issuerName !== PRODUCTION_ISSUER) return { principal: undefined, refusal: 'test certificates do not authenticate' };
    const now = this.clock.now();
    if (record.status === 'revoked') return { principal: undefined, refusal: 'the client certificate is revoked' };
    if (record.status === 'superseded') {
      return { principal: undefined, refusal: 'the client certificate was replaced by a renewal', replacedCertificateSerial: record.serialHex };
    }
    if (record.status === 'expired' || record.notAfter <= now) return { principal: undefined, refusal: 'the client certificate has expired' };
    const service = await this.services.findService(record.serviceName);
    if (!service?.enabled) return { principal: undefined, refusal: `service ${record.serviceName} is disabled` };
    return {
      principal: {
        kind: 'service-certificate',
        certificateId: record.id,
        serialHex: record.serialHex,
        serviceName: record.serviceName,
        issuerName: record.issuerName,
      },
    };
  }
}
