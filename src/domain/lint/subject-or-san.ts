import { id_ce_subjectAltName } from '@peculiar/asn1-x509';
import { x509 } from '../x509/crypto-provider.ts';
import type { LintRule } from './lint-rule.ts';
import { templateExtension } from './template-extension.ts';

/** A certificate must name someone: an empty subject needs a non-empty subjectAltName. */
export const subjectOrSan: LintRule = {
  id: 'subject-or-san',
  source: 'RFC 5280 4.1.2.6',
  check(template) {
    if (template.subjectDn.trim() !== '') return undefined;
    const extension = templateExtension(template, id_ce_subjectAltName, x509.SubjectAlternativeNameExtension);
    if (!extension || extension.names.items.length === 0) {
      return 'the certificate has neither a subject nor any subject alternative name';
    }
    return undefined;
  },
};
