import type { NewCertificateRecord } from '../domain/ports.ts';

/** The text the inventory's "name contains" filter searches. */
export function nameText(record: NewCertificateRecord): string {
  const { facts } = record;
  return [facts.commonName ?? '', ...facts.sans.dnsNames, ...facts.sans.ipAddresses, ...facts.sans.uris]
    .filter((name) => name !== '')
    .join(' ')
    .toLowerCase();
}
