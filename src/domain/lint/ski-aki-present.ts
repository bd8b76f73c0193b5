import { id_ce_authorityKeyIdentifier } from '@peculiar/asn1-x509';
import { hash } from 'node:crypto';
import { x509 } from '../x509/crypto-provider.ts';
import type { LintRule } from './lint-rule.ts';
import { templateExtension, templatePublicKeyInfo, templateSubjectKeyIdentifier, type TemplateKeyInfo } from './template-extension.ts';

/** RFC 7093 methods truncate a SHA-2 hash of the key to its leftmost 160 bits (20 octets). */
const RFC7093_KEY_ID_OCTETS = 20;

/**
 * SKI present, non-critical and derived from this certificate's own key; AKI present,
 * non-critical and equal to the issuer's SKI. Path building matches AKI to SKI, so a wrong or
 * missing one makes the chain unbuildable for some verifiers.
 */
export const skiAkiPresent: LintRule = {
  id: 'ski-aki-present',
  source: 'RFC 5280 4.2.1.1 and 4.2.1.2; RFC 7093',
  check(template, { issuerCertificate }) {
    const ski = templateSubjectKeyIdentifier(template);
    if (!ski) return 'the subjectKeyIdentifier extension is missing';
    if (ski.critical) return 'the subjectKeyIdentifier extension must not be critical';
    if (!isKeyIdentifierOf(ski.keyId, templatePublicKeyInfo(template))) {
      return 'the subjectKeyIdentifier is not derived from the certificate\'s public key';
    }
    const aki = templateExtension(template, id_ce_authorityKeyIdentifier, x509.AuthorityKeyIdentifierExtension);
    if (!aki) return 'the authorityKeyIdentifier extension is missing';
    if (aki.critical) return 'the authorityKeyIdentifier extension must not be critical';
    if (aki.keyId === undefined) return 'the authorityKeyIdentifier extension has no keyIdentifier';
    const issuerSki = issuerCertificate.getExtension(x509.SubjectKeyIdentifierExtension);
    if (!issuerSki) return 'the issuer certificate has no subjectKeyIdentifier to match';
    if (aki.keyId.toLowerCase() !== issuerSki.keyId.toLowerCase()) {
      return `the authorityKeyIdentifier (${aki.keyId.toLowerCase()}) is not the issuer's subjectKeyIdentifier (${issuerSki.keyId.toLowerCase()})`;
    }
    return undefined;
  },
};

/** Hash algorithms of the key identifiers RFC 5280 method 1 (SHA-1) and RFC 7093 methods 1–3 give. */
const KEY_ID_HASHES = ['sha1', 'sha256', 'sha384', 'sha512'] as const;

/**
 * Whether `keyId` (hex) is one of those identifiers of the key. They are tried in turn: the
 * leaves Trustroot signs use method 1, so one SHA-1 decides, and the three SHA-2 hashes are
 * computed only for a key identifier that is not that one.
 */
function isKeyIdentifierOf(keyId: string, { keyBits }: TemplateKeyInfo): boolean {
  return KEY_ID_HASHES.some((algorithm) => hash(algorithm, keyBits, 'buffer').subarray(0, RFC7093_KEY_ID_OCTETS).toString('hex') === keyId);
}
