import type { LintRule } from './lint-rule.ts';

/**
 * notBefore < notAfter, and both inside the issuer's own validity: a relying party rejects a
 * chain whose CA has expired, so a leaf outliving its issuer is a certificate that stops working
 * early without anyone having chosen that.
 */
export const validityWithinIssuer: LintRule = {
  id: 'validity-within-issuer',
  source: 'RFC 5280 4.1.2.5; RFC 5280 6.1.3 (a chain is valid only within every certificate\'s validity)',
  check(template, { issuerCertificate }) {
    const { notBefore, notAfter } = template;
    if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
      return 'notBefore and notAfter must be valid dates';
    }
    if (notBefore.getTime() >= notAfter.getTime()) {
      return `notBefore (${notBefore.toISOString()}) must be before notAfter (${notAfter.toISOString()})`;
    }
    if (notBefore.getTime() < issuerCertificate.notBefore.getTime()) {
      return `notBefore (${notBefore.toISOString()}) is before the issuer's notBefore (${issuerCertificate.notBefore.toISOString()})`;
    }
    if (notAfter.getTime() > issuerCertificate.notAfter.getTime()) {
      return `notAfter (${notAfter.toISOString()}) is after the issuer's notAfter (${issuerCertificate.notAfter.toISOString()})`;
    }
    return undefined;
  },
};
