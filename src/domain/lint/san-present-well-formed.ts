import { isIP } from 'node:net';
import { isDomainError } from '../errors.ts';
import { checkSanSyntax } from '../name-policy-check.ts';
import type { LintRule } from './lint-rule.ts';
import { templateSubjectAltName } from './template-extension.ts';

/**
 * subjectAltName present and non-empty, holding only DNS, IP and URI names, exactly the template's
 * names (as a multiset per type), each syntactically valid. Comparing what is *encoded* with what
 * was decided catches encoder surprises: @peculiar/x509 silently mis-encodes an IPv6 literal with
 * a dotted IPv4 part, for instance.
 */
export const sanPresentWellFormed: LintRule = {
  id: 'san-present-well-formed',
  source: 'RFC 5280 4.2.1.6; CA/Browser Forum BR 7.1.2.7.12 (SAN carries the identity)',
  check(template) {
    const extension = templateSubjectAltName(template);
    if (!extension) return 'the subjectAltName extension is missing';
    const { names } = extension;
    if (names.length === 0) return 'the subjectAltName extension is empty';
    const unsupported = names.find((name) => name.type === 'other');
    if (unsupported) return `the subjectAltName extension holds a ${unsupported.value} name; only DNS, IP and URI names are issued`;
    try {
      checkSanSyntax(template.sans);
    } catch (error) {
      if (isDomainError(error)) return error.detail;
      throw error;
    }
    const encoded = {
      dnsNames: names.filter((name) => name.type === 'dns').map((name) => name.value),
      ipAddresses: names.filter((name) => name.type === 'ip').map((name) => name.value),
      uris: names.filter((name) => name.type === 'url').map((name) => name.value),
    };
    const lists: [string, string[], string[], (value: string) => string][] = [
      ['DNS names', encoded.dnsNames, template.sans.dnsNames, (value) => value],
      ['IP addresses', encoded.ipAddresses, template.sans.ipAddresses, canonicalIp],
      ['URIs', encoded.uris, template.sans.uris, (value) => value],
    ];
    for (const [kind, actual, expected, canonical] of lists) {
      const actualSorted = actual.map(canonical).sort();
      const expectedSorted = expected.map(canonical).sort();
      if (JSON.stringify(actualSorted) !== JSON.stringify(expectedSorted)) {
        return `the subjectAltName extension encodes ${kind} ${JSON.stringify(actualSorted)} but the template has ${JSON.stringify(expectedSorted)}`;
      }
    }
    return undefined;
  },
};

/**
 * One text form per address, so that `2001:DB8:0::1` and `2001:db8::1` compare equal: RFC 5952
 * for IPv6 (via WHATWG URL's serializer), unchanged for IPv4 and for anything that is not an IP.
 */
function canonicalIp(value: string): string {
  if (isIP(value) !== 6) return value;
  try {
    return new URL(`http://[${value}]`).hostname.slice(1, -1);
  } catch {
    return value;
  }
}
