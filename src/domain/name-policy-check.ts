import { BlockList, isIP } from 'node:net';
import { DomainError } from './errors.ts';
import type { NamePolicy } from './name-policy.ts';
import type { SubjectAlternativeNames } from './x509/certificate-builder.ts';

/** A requested name a policy does not allow, with the SAN type it was requested as. */
export interface DisallowedName {
  type: 'dns' | 'ip' | 'uri';
  value: string;
}

/** RFC 1035 limits, in characters (octets, since names are ASCII). */
const MAX_DNS_NAME_LENGTH = 253;
const MAX_DNS_LABEL_LENGTH = 63;
/** The SPIFFE ID specification's limits, in bytes. */
const MAX_SPIFFE_ID_LENGTH = 2048;
const MAX_SPIFFE_TRUST_DOMAIN_LENGTH = 255;
/** How much of a caller's name is echoed back in an error detail. */
const MAX_ECHOED_NAME_LENGTH = 100;

/**
 * Checks the syntax of requested subject alternative names and throws
 * `DomainError('bad_request', detail, { name })` for the first malformed one:
 * - DNS names: lower-case LDH preferred-name syntax (labels of 1–63 letters, digits and inner
 *   hyphens, at most 253 characters, no trailing dot); `*.` is allowed only as the whole
 *   left-most label; an IP address is refused (it belongs in `ipAddresses`).
 * - IP addresses: IPv4 or IPv6 literals without a zone; an IPv6 address with an embedded dotted
 *   IPv4 part must be written in hex, because @peculiar/x509 silently mis-encodes the dotted form.
 * - URIs: absolute, with a scheme, printable ASCII; `spiffe://` URIs must be SPIFFE IDs (lower-case
 *   trust domain of [a-z0-9._-], no port, userinfo, query or fragment, path segments of
 *   [A-Za-z0-9._-] that are neither empty nor `.`/`..`).
 * At least one name must be given at all. Says nothing about whether a name is *allowed*.
 */
export function checkSanSyntax(sans: SubjectAlternativeNames): void {
  if (sans.dnsNames.length + sans.ipAddresses.length + sans.uris.length === 0) {
    throw new DomainError('bad_request', 'at least one subject alternative name is required');
  }
  const checks: [string[], string, (value: string) => string | undefined][] = [
    [sans.dnsNames, 'DNS name', dnsNameProblem],
    [sans.ipAddresses, 'IP address', ipAddressProblem],
    [sans.uris, 'URI', uriProblem],
  ];
  for (const [names, kind, problemOf] of checks) {
    for (const name of names) {
      const problem = problemOf(name);
      if (problem !== undefined) {
        throw new DomainError('bad_request', `${kind} ${echo(name)} ${problem}`, { name });
      }
    }
  }
}

/**
 * The first requested name (DNS names, then IP addresses, then URIs, each in request order) that
 * `policy` does not allow, or undefined when the policy allows them all. Semantics, as documented
 * on `NamePolicy`:
 * - DNS: case-insensitive; a pattern `*.x.y` matches exactly one extra label (`a.x.y`, not
 *   `a.b.x.y`, not `x.y`); a requested literal wildcard `*.x.y` is allowed only by the identical
 *   pattern `*.x.y`, never by a broader one.
 * - IP: an exact address or inside a CIDR range of the same family (an IPv4 range does not allow
 *   IPv4-mapped IPv6 addresses: the certificate would carry a different, 16-octet name).
 * - URI: exact, or under a pattern ending `/*` at a path-segment boundary: `…/prod/*` allows
 *   `…/prod/api` and `…/prod/a/b`, but not `…/prod`, `…/production`, `…/prod/` or any name with an
 *   empty, `.` or `..` segment after the prefix.
 * Malformed patterns match nothing but their identical string (`validateNamePolicy` reports them).
 */
export function findDisallowedName(policy: NamePolicy, sans: SubjectAlternativeNames): DisallowedName | undefined {
  const dns = sans.dnsNames.find((name) => !dnsNameAllowed(policy.dnsNames, name));
  if (dns !== undefined) return { type: 'dns', value: dns };
  const ranges = ipRanges(policy.ipAddresses);
  const ip = sans.ipAddresses.find((address) => !ipAddressAllowed(ranges, address));
  if (ip !== undefined) return { type: 'ip', value: ip };
  const uri = sans.uris.find((name) => !uriAllowed(policy.uris, name));
  if (uri !== undefined) return { type: 'uri', value: uri };
  return undefined;
}

/**
 * Problems with a policy's patterns themselves, one readable line each (empty when valid): DNS
 * patterns must be valid names (any case) whose only `*` is a whole left-most label; IP patterns
 * must be addresses or `address/prefix` ranges with a prefix within the family's width; URI
 * patterns must be absolute URIs (SPIFFE IDs when `spiffe://`), optionally ending `/*`, with no
 * other `*`. Run when a service or profile policy is registered, so requests never meet a bad one.
 */
export function validateNamePolicy(policy: NamePolicy): string[] {
  const problems: string[] = [];
  policy.dnsNames.forEach((pattern, index) => {
    // Matching is case-insensitive, so a pattern's case is harmless.
    const problem = dnsNameProblem(pattern.toLowerCase());
    if (problem !== undefined) problems.push(`dnsNames[${index}] ${echo(pattern)} ${problem}`);
  });
  policy.ipAddresses.forEach((pattern, index) => {
    const problem = ipPatternProblem(pattern);
    if (problem !== undefined) problems.push(`ipAddresses[${index}] ${echo(pattern)} ${problem}`);
  });
  policy.uris.forEach((pattern, index) => {
    const problem = uriPatternProblem(pattern);
    if (problem !== undefined) problems.push(`uris[${index}] ${echo(pattern)} ${problem}`);
  });
  return problems;
}

/** A name quoted for an error detail: JSON-escaped (no control characters) and shortened. */
function echo(name: string): string {
  const shown = name.length > MAX_ECHOED_NAME_LENGTH ? `${name.slice(0, MAX_ECHOED_NAME_LENGTH)}…` : name;
  return JSON.stringify(shown);
}

// ---------------------------------------------------------------------------------------------
// Syntax

function dnsNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.length > MAX_DNS_NAME_LENGTH) return `is longer than ${MAX_DNS_NAME_LENGTH} characters`;
  if (name.endsWith('.')) return 'must not end with a dot';
  if (isIP(name) !== 0) return 'is an IP address; request it as an IP address';
  if (name !== name.toLowerCase()) return 'must be lower case';
  const labels = name.split('.');
  for (const [index, label] of labels.entries()) {
    if (label === '*' && index === 0 && labels.length > 1) continue;
    if (label.includes('*')) return 'may use "*" only as the whole left-most label ("*.example.internal")';
    if (label === '') return 'has an empty label';
    if (label.length > MAX_DNS_LABEL_LENGTH) return `has a label longer than ${MAX_DNS_LABEL_LENGTH} characters`;
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(label)) {
      return 'must use only letters, digits and hyphens (not at the start or end of a label); write internationalized names as A-labels (xn--)';
    }
  }
  return undefined;
}

function ipAddressProblem(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'is not an IPv4 or IPv6 address';
  // Node accepts zone identifiers ("fe80::1%eth0"); a certificate cannot carry one.
  if (address.includes('%')) return 'must not have a zone identifier';
  if (family === 6 && address.includes('.')) {
    return `must be written in hex (${canonicalIpv6(address)}), not with a dotted IPv4 part`;
  }
  return undefined;
}

/** RFC 5952 text form of a valid IPv6 literal (WHATWG URL's serializer implements it). */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]`).hostname.slice(1, -1);
}

function uriProblem(uri: string): string | undefined {
  // A URI SAN is an IA5String; spaces and non-ASCII would be percent-encoded in a real URI.
  if (!/^[\x21-\x7e]+$/.test(uri)) return 'must be printable ASCII without spaces';
  // An RFC 3986 scheme at the very start (stated, not left to the WHATWG parser's leniency) and a
  // WHATWG parse that succeeds. Note "host:8443" is, by RFC 3986, a URI with scheme "host".
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri) || !URL.canParse(uri)) return 'is not an absolute URI with a scheme';
  if (/^spiffe:/i.test(uri)) return spiffeIdProblem(uri);
  return undefined;
}

/**
 * The SPIFFE ID rules (SPIFFE-ID §2). Checked on the raw text: WHATWG URL parsing would resolve
 * `..` segments and keep an opaque host's case, hiding exactly what must be refused.
 */
function spiffeIdProblem(uri: string): string | undefined {
  const scheme = 'spiffe://';
  if (!uri.startsWith(scheme)) return 'must start with "spiffe://" (lower case) to be a SPIFFE ID';
  if (Buffer.byteLength(uri) > MAX_SPIFFE_ID_LENGTH) return `must be at most ${MAX_SPIFFE_ID_LENGTH} bytes to be a SPIFFE ID`;
  if (uri.includes('?')) return 'must not have a query to be a SPIFFE ID';
  if (uri.includes('#')) return 'must not have a fragment to be a SPIFFE ID';
  const rest = uri.slice(scheme.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (trustDomain === '') return 'must have a trust domain to be a SPIFFE ID';
  if (trustDomain.includes('@')) return 'must not have userinfo to be a SPIFFE ID';
  if (trustDomain.includes(':')) return 'must not have a port to be a SPIFFE ID';
  if (trustDomain.length > MAX_SPIFFE_TRUST_DOMAIN_LENGTH) return `must have a trust domain of at most ${MAX_SPIFFE_TRUST_DOMAIN_LENGTH} characters`;
  if (!/^[a-z0-9._-]+$/.test(trustDomain)) return 'must have a trust domain of lower-case letters, digits, ".", "-" and "_"';
  if (slash === -1) return undefined;
  for (const segment of rest.slice(slash + 1).split('/')) {
    if (segment === '') return 'must not have empty path segments (no "//" and no trailing "/") to be a SPIFFE ID';
    if (segment === '.' || segment === '..') return 'must not have "." or ".." path segments to be a SPIFFE ID';
    if (!/^[A-Za-z0-9._-]+$/.test(segment)) return 'must have path segments of letters, digits, ".", "-" and "_" only to be a SPIFFE ID';
  }
  return undefined;
}

function ipPatternProblem(pattern: string): string | undefined {
  const slash = pattern.indexOf('/');
  if (slash === -1) return ipAddressProblem(pattern);
  const address = pattern.slice(0, slash);
  const prefix = pattern.slice(slash + 1);
  const addressProblem = ipAddressProblem(address);
  if (addressProblem !== undefined) return `has an address that ${addressProblem}`;
  const width = isIP(address) === 4 ? 32 : 128;
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(prefix) || Number(prefix) > width) {
    return `must have a prefix length from 0 to ${width}`;
  }
  return undefined;
}

function uriPatternProblem(pattern: string): string | undefined {
  const isPrefix = pattern.endsWith('/*');
  const base = isPrefix ? pattern.slice(0, -2) : pattern;
  if (base.includes('*')) return 'may use "*" only as a final "/*" path segment';
  return uriProblem(base);
}

// ---------------------------------------------------------------------------------------------
// Matching

function dnsNameAllowed(patterns: readonly string[], name: string): boolean {
  const requested = name.toLowerCase();
  return patterns.some((raw) => {
    const pattern = raw.toLowerCase();
    if (pattern === requested) return true;
    // A wildcard certificate is broader than any one name: only the identical pattern grants it.
    if (requested.startsWith('*.')) return false;
    if (!pattern.startsWith('*.') || pattern.includes('*', 1)) return false;
    const suffix = pattern.slice(1);
    if (!requested.endsWith(suffix)) return false;
    const label = requested.slice(0, -suffix.length);
    return label !== '' && !label.includes('.') && !label.includes('*');
  });
}

interface IpRanges {
  v4: BlockList;
  v6: BlockList;
}

function ipRanges(patterns: readonly string[]): IpRanges {
  const ranges: IpRanges = { v4: new BlockList(), v6: new BlockList() };
  for (const pattern of patterns) {
    if (ipPatternProblem(pattern) !== undefined) continue;
    const [address = '', prefix] = pattern.split('/');
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    const list = family === 'ipv4' ? ranges.v4 : ranges.v6;
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return ranges;
}

function ipAddressAllowed(ranges: IpRanges, address: string): boolean {
  if (address.includes('%')) return false;
  // Separate lists per family: a single BlockList lets IPv4 rules match IPv4-mapped IPv6 queries.
  switch (isIP(address)) {
    case 4:
      return ranges.v4.check(address, 'ipv4');
    case 6:
      return ranges.v6.check(address, 'ipv6');
    default:
      return false;
  }
}

function uriAllowed(patterns: readonly string[], uri: string): boolean {
  return patterns.some((pattern) => {
    if (pattern === uri) return true;
    if (!pattern.endsWith('/*')) return false;
    const prefix = pattern.slice(0, -1);
    if (!uri.startsWith(prefix)) return false;
    const rest = uri.slice(prefix.length);
    return rest !== '' && rest.split('/').every((segment) => segment !== '' && !isDotSegment(segment));
  });
}

/** `.` or `..`, also percent-encoded, which a relying party may resolve to escape the prefix. */
function isDotSegment(segment: string): boolean {
  const decoded = segment.replace(/%2e/gi, '.');
  return decoded === '.' || decoded === '..';
}
