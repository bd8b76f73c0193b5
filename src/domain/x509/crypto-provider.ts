import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * @peculiar/x509 signs and verifies through a WebCrypto provider. Node's native WebCrypto is
 * several times faster than a JavaScript implementation and supports every algorithm we issue
 * (ECDSA P-256/P-384, Ed25519, RSA), so it is the provider for the whole process.
 */
export const nodeCrypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(nodeCrypto);

export { x509 };
