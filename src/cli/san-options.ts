import { UsageError } from './cli-failure.ts';

/**
 * Names from `--name` and repeated `--san` options as one list for Trustroot: OpenSSL-style
 * prefixes (`DNS:`, `IP:`, `URI:`) are accepted and dropped — Trustroot tells the kinds apart
 * itself — and duplicates are removed, the primary name first.
 */
export function namesFromOptions(primary: string | undefined, sans: readonly string[]): string[] {
  const names: string[] = [];
  for (const raw of [...(primary !== undefined ? [primary] : []), ...sans]) {
    const name = raw.trim().replace(/^(DNS|IP|URI):/i, '');
    if (name === '' || /\s/.test(name)) throw new UsageError(`"${raw}" is not a name (DNS name, IP address or URI, without spaces)`);
    if (!names.some((existing) => existing.toLowerCase() === name.toLowerCase())) names.push(name);
  }
  return names;
}
