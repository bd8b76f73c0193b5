import type { CertificateTemplate } from '../x509/certificate-template.ts';
import { basicConstraintsCriticalNotCa } from './basic-constraints-critical-not-ca.ts';
import { ekuMatchesProfile } from './eku-matches-profile.ts';
import { keyUsageCritical } from './key-usage-critical.ts';
import { keyUsageMatchesKey } from './key-usage-matches-key.ts';
import type { LintContext, LintRule } from './lint-rule.ts';
import { noDuplicateExtensions } from './no-duplicate-extensions.ts';
import { sanCriticalIfEmptySubject } from './san-critical-if-empty-subject.ts';
import { sanPresentWellFormed } from './san-present-well-formed.ts';
import { serialNumber } from './serial-number.ts';
import { skiAkiPresent } from './ski-aki-present.ts';
import { subjectOrSan } from './subject-or-san.ts';
import { validityWithinIssuer } from './validity-within-issuer.ts';

/** Every pre-issuance rule, in the order failures are reported. */
export const LINT_RULES: readonly LintRule[] = [
  validityWithinIssuer,
  serialNumber,
  noDuplicateExtensions,
  basicConstraintsCriticalNotCa,
  keyUsageCritical,
  keyUsageMatchesKey,
  ekuMatchesProfile,
  sanPresentWellFormed,
  sanCriticalIfEmptySubject,
  subjectOrSan,
  skiAkiPresent,
];

export interface LintFailure {
  ruleId: string;
  message: string;
}

/**
 * Runs every rule against a to-be-signed certificate and returns all failures (empty when the
 * template may be signed). Every rule runs even after one fails, so a report is complete. A rule
 * that throws (say, on an extension that does not decode) counts as failed: lint fails closed.
 */
export function lintCertificate(template: CertificateTemplate, context: LintContext): LintFailure[] {
  const failures: LintFailure[] = [];
  for (const rule of LINT_RULES) {
    let message: string | undefined;
    try {
      message = rule.check(template, context);
    } catch (error) {
      message = `the rule could not run: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (message !== undefined) failures.push({ ruleId: rule.id, message });
  }
  return failures;
}
