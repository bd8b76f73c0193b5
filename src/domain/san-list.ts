import { isIpAddress } from './ip-address.ts';
import type { SubjectAlternativeNames } from './x509/certificate-builder.ts';

/** Sorts a flat list of names into DNS names, IP addresses and URIs (anything with a scheme). */
export function classifyNames(names: readonly string[]): SubjectAlternativeNames {
  const sans: SubjectAlternativeNames = { dnsNames: [], ipAddresses: [], uris: [] };
  for (const name of names) {
    if (isIpAddress(name)) sans.ipAddresses.push(name);
    else if (/^[a-z][a-z0-9+.-]*:/i.test(name)) sans.uris.push(name);
    else sans.dnsNames.push(name.toLowerCase());
  }
  return sans;
}

/** Every name of a SAN set as one flat list. */
export function flattenNames(sans: SubjectAlternativeNames): string[] {
  return [...sans.dnsNames, ...sans.ipAddresses, ...sans.uris];
}

/** True when both sets hold the same names, in any order. */
export function sameNames(a: SubjectAlternativeNames, b: SubjectAlternativeNames): boolean {
  const key = (s: SubjectAlternativeNames) => [...s.dnsNames.map((n) => n.toLowerCase()), ...s.ipAddresses, ...s.uris].sort().join('\n');
  return key(a) === key(b);
}
