import type { x509 } from '../x509/crypto-provider.ts';
import type { CertificateTemplate } from '../x509/certificate-template.ts';

/**
 * The template's first extension with `oid`, decoded afresh from its DER as `type`, or undefined.
 * Decoding the bytes (rather than trusting an object's fields or its class) makes a rule check
 * exactly what will be signed, whichever way the extension was built. Throws when the bytes do
 * not decode; `lintCertificate` turns that into a failure of the rule.
 */
export function templateExtension<T extends x509.Extension>(
  template: CertificateTemplate,
  oid: string,
  type: new (raw: BufferSource) => T,
): T | undefined {
  const extension = template.extensions.find((candidate) => candidate.type === oid);
  return extension === undefined ? undefined : new type(extension.rawData);
}
