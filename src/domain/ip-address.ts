import { isIP } from 'node:net';

/** True for a literal IPv4 or IPv6 address (which belongs in an iPAddress SAN, not a dNSName). */
export function isIpAddress(value: string): boolean {
  return isIP(value) !== 0;
}
