import { id_ce_extKeyUsage } from '@peculiar/asn1-x509';
import type { ExtendedKeyUsageName } from '../certificate-profile.ts';
import { x509 } from '../x509/crypto-provider.ts';
import type { LintRule } from './lint-rule.ts';
import { templateExtension } from './template-extension.ts';

/** Key purpose OIDs (RFC 5280 4.2.1.12) of the extended key usages a profile may grant. */
const EKU_OIDS: Readonly<Record<ExtendedKeyUsageName, string>> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

/**
 * extendedKeyUsage present and holding exactly the profile's purposes, each once. Without an EKU
 * a certificate is good for every purpose; with a stray one it is good for more than was decided.
 */
export const ekuMatchesProfile: LintRule = {
  id: 'eku-matches-profile',
  source: 'RFC 5280 4.2.1.12; Trustroot certificate profile extendedKeyUsages',
  check(template, { profile }) {
    const extension = templateExtension(template, id_ce_extKeyUsage, x509.ExtendedKeyUsageExtension);
    if (!extension) return 'the extendedKeyUsage extension is missing';
    const actual = extension.usages.map(String);
    if (actual.length === 0) return 'the extendedKeyUsage extension is empty';
    if (new Set(actual).size !== actual.length) return 'the extendedKeyUsage extension lists a purpose more than once';
    const expected = [...new Set(profile.extendedKeyUsages.map((name) => EKU_OIDS[name]))].sort();
    const sorted = [...actual].sort();
    if (sorted.join(',') !== expected.join(',')) {
      return `extendedKeyUsage is [${sorted.join(', ')}] but the profile grants [${expected.join(', ')}]`;
    }
    return undefined;
  },
};
