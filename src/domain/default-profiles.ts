import { KEY_ALGORITHMS } from './key-algorithm.ts';
import type { CertificateProfile } from './certificate-profile.ts';

const HOUR = 3600;
const DAY = 24 * HOUR;

/**
 * The profiles Trustroot offers unless TRUSTROOT_PROFILES_FILE replaces them. Service
 * certificates are short-lived (a day by default) because renewal is automatic; `test`
 * certificates come from the separate test CA and live an hour by default.
 */
export const DEFAULT_PROFILES: readonly CertificateProfile[] = [
  {
    name: 'server',
    issuer: 'intermediate',
    defaultTtlSeconds: DAY,
    maxTtlSeconds: 30 * DAY,
    keyUsages: ['digitalSignature'],
    extendedKeyUsages: ['serverAuth'],
    allowedKeyAlgorithms: [...KEY_ALGORITHMS],
    serverSideKeyGeneration: false,
  },
  {
    name: 'client',
    issuer: 'intermediate',
    defaultTtlSeconds: DAY,
    maxTtlSeconds: 30 * DAY,
    keyUsages: ['digitalSignature'],
    extendedKeyUsages: ['clientAuth'],
    allowedKeyAlgorithms: [...KEY_ALGORITHMS],
    serverSideKeyGeneration: false,
  },
  {
    name: 'peer',
    issuer: 'intermediate',
    defaultTtlSeconds: DAY,
    maxTtlSeconds: 30 * DAY,
    keyUsages: ['digitalSignature'],
    extendedKeyUsages: ['serverAuth', 'clientAuth'],
    allowedKeyAlgorithms: [...KEY_ALGORITHMS],
    serverSideKeyGeneration: false,
  },
  {
    name: 'test',
    issuer: 'test-intermediate',
    defaultTtlSeconds: HOUR,
    maxTtlSeconds: DAY,
    keyUsages: ['digitalSignature'],
    extendedKeyUsages: ['serverAuth', 'clientAuth'],
    allowedKeyAlgorithms: [...KEY_ALGORITHMS],
    serverSideKeyGeneration: true,
    namePolicy: { dnsNames: ['localhost', '*.test'], ipAddresses: ['127.0.0.1', '::1'], uris: ['spiffe://test/*'] },
  },
];
