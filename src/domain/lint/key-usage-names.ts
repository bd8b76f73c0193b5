import { x509 } from '../x509/crypto-provider.ts';

/** RFC 5280 names of the bits set in a keyUsage value, in bit order, for failure messages. */
export function keyUsageNames(flags: number): string[] {
  const names: string[] = [];
  for (let bit = 1; bit <= x509.KeyUsageFlags.decipherOnly; bit <<= 1) {
    if (flags & bit) names.push(x509.KeyUsageFlags[bit] ?? `bit ${Math.log2(bit)}`);
  }
  return names;
}
