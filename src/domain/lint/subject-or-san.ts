import type { LintRule } from './lint-rule.ts';
import { templateSubjectAltName } from './template-extension.ts';

/** A certificate must name someone: an empty subject needs a non-empty subjectAltName. */
export const subjectOrSan: LintRule = {
  id: 'subject-or-san',
  source: 'RFC 5280 4.1.2.6',
  check(template) {
    if (template.subjectDn.trim() !== '') return undefined;
    const extension = templateSubjectAltName(template);
    if (!extension || extension.names.length === 0) {
      return 'the certificate has neither a subject nor any subject alternative name';
    }
    return undefined;
  },
};
