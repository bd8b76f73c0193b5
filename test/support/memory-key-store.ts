import { webcrypto } from 'node:crypto';
import type { KeyAlgorithmName } from '../../src/domain/key-algorithm.ts';
import { keyAlgorithmParameters } from '../../src/domain/key-algorithm.ts';
import type { SigningKeyStore } from '../../src/domain/ports.ts';

/**
 * CA keys in memory (non-extractable WebCrypto keys), for tests whose subject is not the key
 * store. Two stores given the same map share their keys, as replicas share a key folder.
 */
export class MemoryKeyStore implements SigningKeyStore {
  constructor(readonly keys = new Map<string, CryptoKeyPair>()) {}

  async generate(keyRef: string, algorithm: KeyAlgorithmName): Promise<CryptoKeyPair> {
    const { keyParams, usages } = keyAlgorithmParameters(algorithm);
    const pair = (await webcrypto.subtle.generateKey(keyParams, false, usages)) as CryptoKeyPair;
    this.keys.set(keyRef, pair);
    return pair;
  }

  async load(keyRef: string): Promise<CryptoKey> {
    const pair = this.keys.get(keyRef);
    if (!pair) throw new Error(`no key ${keyRef}`);
    return pair.privateKey;
  }

  async discard(keyRef: string): Promise<void> {
    this.keys.delete(keyRef);
  }
}
