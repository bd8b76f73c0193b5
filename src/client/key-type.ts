import type { KeyObject } from 'node:crypto';

/** Key types a service may generate for itself (all are accepted by every built-in profile). */
export type KeyType = 'p256' | 'p384' | 'ed25519' | 'rsa2048' | 'rsa3072' | 'rsa4096';

export const KEY_TYPES: readonly KeyType[] = ['p256', 'p384', 'ed25519', 'rsa2048', 'rsa3072', 'rsa4096'];

/** The {@link KeyType} of an existing key, so that a re-key keeps the algorithm; `undefined` if unsupported. */
export function keyTypeOf(key: KeyObject): KeyType | undefined {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ec':
      return details?.namedCurve === 'prime256v1' ? 'p256' : details?.namedCurve === 'secp384r1' ? 'p384' : undefined;
    case 'ed25519':
      return 'ed25519';
    case 'rsa': {
      const type = `rsa${details?.modulusLength ?? 0}`;
      return (KEY_TYPES as readonly string[]).includes(type) ? (type as KeyType) : undefined;
    }
    default:
      return undefined;
  }
}
