import { id_ce_keyUsage } from '@peculiar/asn1-x509';
import { x509 } from '../x509/crypto-provider.ts';
import type { KeyUsageName } from '../certificate-profile.ts';
import { keyUsageNames } from './key-usage-names.ts';
import type { LintRule } from './lint-rule.ts';
import { templateExtension } from './template-extension.ts';

/** keyUsage bits of the usages a profile may grant. */
const KEY_USAGE_FLAGS: Readonly<Record<KeyUsageName, x509.KeyUsageFlags>> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
};

/** keyUsage present, critical, and exactly the profile's usages: no more, no fewer. */
export const keyUsageCritical: LintRule = {
  id: 'key-usage-critical',
  source: 'RFC 5280 4.2.1.3 (SHOULD be critical); Trustroot certificate profile keyUsages',
  check(template, { profile }) {
    const extension = templateExtension(template, id_ce_keyUsage, x509.KeyUsagesExtension);
    if (!extension) return 'the keyUsage extension is missing';
    if (!extension.critical) return 'the keyUsage extension must be critical';
    // @peculiar/x509 decodes a keyUsage with no bits set as NaN, hence not `=== 0`.
    if (!(extension.usages > 0)) return 'the keyUsage extension must have at least one bit set';
    const expected = profile.keyUsages.reduce<number>((flags, name) => flags | KEY_USAGE_FLAGS[name], 0);
    if (extension.usages !== expected) {
      return `keyUsage is [${keyUsageNames(extension.usages).join(', ')}] but the profile grants [${keyUsageNames(expected).join(', ')}]`;
    }
    return undefined;
  },
};
