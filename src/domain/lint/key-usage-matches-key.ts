import { id_ce_keyUsage } from '@peculiar/asn1-x509';
import type { KeyAlgorithmName } from '../key-algorithm.ts';
import { x509 } from '../x509/crypto-provider.ts';
import { keyUsageNames } from './key-usage-names.ts';
import type { LintRule } from './lint-rule.ts';
import { templateExtension, templatePublicKeyInfo } from './template-extension.ts';

type KeyFamily = 'rsa' | 'ec' | 'ed25519';

/** SubjectPublicKeyInfo algorithm OIDs of the key families we certify. */
const FAMILY_BY_SPKI_OID: Readonly<Record<string, KeyFamily>> = {
  '1.2.840.113549.1.1.1': 'rsa',
  '1.2.840.10045.2.1': 'ec',
  '1.3.101.112': 'ed25519',
};

function familyOf(name: KeyAlgorithmName): KeyFamily {
  if (name.startsWith('rsa-')) return 'rsa';
  if (name.startsWith('ecdsa-')) return 'ec';
  return 'ed25519';
}

/**
 * keyUsage bits the certified key can actually perform: keyEncipherment only for RSA (RSA key
 * transport), keyAgreement only for EC (ECDH), and digitalSignature alone for Ed25519, which can
 * do nothing else (RFC 8410 §5). The family is read from the encoded SubjectPublicKeyInfo, and
 * must agree with the template's declared key algorithm.
 */
export const keyUsageMatchesKey: LintRule = {
  id: 'key-usage-matches-key',
  source: 'RFC 5280 4.2.1.3; RFC 8813 §3 (EC); RFC 8410 §5 (Ed25519); RFC 4055 §1.2 (RSA)',
  check(template) {
    const { algorithmOid } = templatePublicKeyInfo(template);
    const family = FAMILY_BY_SPKI_OID[algorithmOid];
    if (family === undefined) return `the subject public key has an unsupported algorithm (${algorithmOid})`;
    if (family !== familyOf(template.keyAlgorithm)) {
      return `the template says ${template.keyAlgorithm} but its public key is ${family === 'ec' ? 'EC' : family === 'rsa' ? 'RSA' : 'Ed25519'}`;
    }
    const extension = templateExtension(template, id_ce_keyUsage, x509.KeyUsagesExtension);
    // A missing keyUsage is key-usage-critical's failure, not this rule's.
    if (!extension) return undefined;
    const usages = extension.usages;
    if (usages & x509.KeyUsageFlags.keyEncipherment && family !== 'rsa') {
      return `keyEncipherment is only for RSA keys, not ${template.keyAlgorithm}`;
    }
    if (usages & x509.KeyUsageFlags.keyAgreement && family !== 'ec') {
      return `keyAgreement is only for EC keys, not ${template.keyAlgorithm}`;
    }
    if (family === 'ed25519' && usages !== x509.KeyUsageFlags.digitalSignature) {
      return `an Ed25519 key may have only digitalSignature, not [${keyUsageNames(usages).join(', ')}]`;
    }
    return undefined;
  },
};
