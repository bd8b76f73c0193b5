/**
 * Which names a service may put in its certificates.
 * - `dnsNames`: exact names, or patterns whose `*` stands for exactly one DNS label
 *   (`*.id-verification.svc` allows `a.id-verification.svc`, not `a.b.id-verification.svc`).
 * - `ipAddresses`: exact addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`).
 * - `uris`: exact URIs, or prefixes ending in `/*` (`spiffe://kyc.internal/ns/prod/*`).
 */
export interface NamePolicy {
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
}
