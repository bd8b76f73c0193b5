import type { LintRule } from './lint-rule.ts';
import { templateSubjectAltName } from './template-extension.ts';

/**
 * With an empty subject the SAN is the certificate's only identity, so it MUST be critical;
 * with a non-empty subject it SHOULD NOT be (RFC 5280 4.2.1.6), and Trustroot does what it should.
 */
export const sanCriticalIfEmptySubject: LintRule = {
  id: 'san-critical-if-empty-subject',
  source: 'RFC 5280 4.2.1.6',
  check(template) {
    const extension = templateSubjectAltName(template);
    // A missing SAN is san-present-well-formed's failure, not this rule's.
    if (!extension) return undefined;
    const emptySubject = template.subjectDn.trim() === '';
    if (emptySubject && !extension.critical) return 'the subject is empty, so the subjectAltName extension must be critical';
    if (!emptySubject && extension.critical) return 'the subject is not empty, so the subjectAltName extension must not be critical';
    return undefined;
  },
};
