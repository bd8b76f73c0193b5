/** Key algorithms Trustroot generates and accepts; nothing weaker than these. */
export type KeyAlgorithmName = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export const KEY_ALGORITHMS: readonly KeyAlgorithmName[] = [
  'ecdsa-p256',
  'ecdsa-p384',
  'ed25519',
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
];

export interface KeyAlgorithmParameters {
  /** WebCrypto parameters for generateKey / importKey. */
  keyParams: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm;
  /** WebCrypto parameters for signing with this key (hash included). */
  signingParams: EcdsaParams | Algorithm;
  /** Key usages a signing key pair of this algorithm needs. */
  usages: KeyUsage[];
}

const RSA_PUBLIC_EXPONENT = new Uint8Array([1, 0, 1]);

/** WebCrypto parameters of a key algorithm, with the hash each one signs with. */
export function keyAlgorithmParameters(name: KeyAlgorithmName): KeyAlgorithmParameters {
  const usages: KeyUsage[] = ['sign', 'verify'];
  switch (name) {
    case 'ecdsa-p256':
      return { keyParams: { name: 'ECDSA', namedCurve: 'P-256' }, signingParams: { name: 'ECDSA', hash: 'SHA-256' }, usages };
    case 'ecdsa-p384':
      return { keyParams: { name: 'ECDSA', namedCurve: 'P-384' }, signingParams: { name: 'ECDSA', hash: 'SHA-384' }, usages };
    case 'ed25519':
      return { keyParams: { name: 'Ed25519' }, signingParams: { name: 'Ed25519' }, usages };
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096': {
      const modulusLength = Number(name.slice(4));
      return {
        keyParams: { name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: RSA_PUBLIC_EXPONENT, hash: 'SHA-256' },
        signingParams: { name: 'RSASSA-PKCS1-v1_5' },
        usages,
      };
    }
  }
}

export function isKeyAlgorithmName(value: string): value is KeyAlgorithmName {
  return (KEY_ALGORITHMS as readonly string[]).includes(value);
}
