import { BlockList, isIP } from 'node:net';
import { DomainError } from './errors.ts';

/** Addresses a webhook must never point at: link-local (cloud metadata lives there) and unspecified. */
const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4');
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addAddress('::', 'ipv6');
const FORBIDDEN_HOSTS = new Set(['metadata.google.internal', 'metadata', 'instance-data']);

/**
 * Whether a resolved address (an IPv4 or IPv6 literal) is one a webhook must never go to. The sender
 * checks every address a host name resolves to, at each delivery: a name that passed
 * registration may point at a link-local address later.
 */
export function isForbiddenWebhookAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  // BlockList checks an IPv4-mapped IPv6 address (::ffff:169.254.169.254) against the IPv4 ranges.
  return FORBIDDEN.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Refuses (400) a webhook URL that is not http(s) or targets link-local or metadata addresses. */
export function checkWebhookUrl(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DomainError('bad_request', 'webhookUrl is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DomainError('bad_request', 'webhookUrl must be http or https');
  if (url.username || url.password) throw new DomainError('bad_request', 'webhookUrl must not carry credentials');
  // An absolute name (trailing dot) is the same host.
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (FORBIDDEN_HOSTS.has(host) || (isIP(host) !== 0 && isForbiddenWebhookAddress(host))) {
    throw new DomainError('bad_request', 'webhookUrl must not point at a link-local or metadata address');
  }
}
