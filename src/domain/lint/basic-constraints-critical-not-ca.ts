import { id_ce_basicConstraints } from '@peculiar/asn1-x509';
import { x509 } from '../x509/crypto-provider.ts';
import type { LintRule } from './lint-rule.ts';
import { templateExtension } from './template-extension.ts';

/**
 * basicConstraints present, critical, cA FALSE and no pathLenConstraint: a leaf must never be
 * usable as a CA, and saying so explicitly (and critically) leaves no verifier guessing.
 */
export const basicConstraintsCriticalNotCa: LintRule = {
  id: 'basic-constraints-critical-not-ca',
  source: 'RFC 5280 4.2.1.9; Trustroot leaf profile (critical basicConstraints CA:FALSE)',
  check(template) {
    const extension = templateExtension(template, id_ce_basicConstraints, x509.BasicConstraintsExtension);
    if (!extension) return 'the basicConstraints extension is missing';
    if (!extension.critical) return 'the basicConstraints extension must be critical';
    if (extension.ca) return 'basicConstraints must have cA FALSE in an end-entity certificate';
    if (extension.pathLength !== undefined) return 'basicConstraints must not have a pathLenConstraint unless cA is TRUE';
    return undefined;
  },
};
