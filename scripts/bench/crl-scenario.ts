import { webcrypto } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { buildCrl, type CrlEntry } from '../../src/domain/crl/crl-builder.ts';
import type { RevocationReasonName } from '../../src/domain/crl/revocation-reason.ts';
import { buildCaCertificate, type SigningIssuer } from '../../src/domain/x509/certificate-builder.ts';
import type { BenchPlan } from './bench-plan.ts';
import { summarize, type Summary } from './stats.ts';

export interface CrlBuildResult {
  entries: number;
  /** Wall-clock time of buildCrl, entries generated on the fly (ms). */
  buildMs: Summary;
  derBytes: number;
}

const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const REASONS: RevocationReasonName[] = ['unspecified', 'keyCompromise', 'superseded', 'cessationOfOperation'];

/**
 * A P-256 CA like Trustroot's intermediate, with its private key as a non-extractable WebCrypto
 * handle as in production (buildCrl turns it into a KeyObject for Node's native signer).
 */
async function benchIssuer(now: Date): Promise<SigningIssuer> {
  const generated = (await webcrypto.subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', generated.privateKey);
  const privateKey = (await webcrypto.subtle.importKey('pkcs8', pkcs8, P256, false, ['sign'])) as CryptoKey;
  const certificate = await buildCaCertificate({
    serialHex: '5a0000000000000000000000000000b1',
    notBefore: new Date(now.getTime() - 86_400_000),
    notAfter: new Date(now.getTime() + 5 * 365 * 86_400_000),
    subjectDn: 'CN=Trustroot Bench Intermediate, O=Trustroot',
    subjectPublicKey: generated.publicKey,
    pathLength: 0,
    selfSigningKey: { privateKey, keyAlgorithm: 'ecdsa-p256' },
  });
  return { name: 'bench-intermediate', certificate, privateKey, keyAlgorithm: 'ecdsa-p256' };
}

/**
 * `count` revoked certificates shaped like production's: 16-octet serials, a mix of reasons
 * (a quarter `unspecified`, which carries no reasonCode), invalidity dates on key compromises.
 */
function* revokedEntries(count: number, now: Date): Generator<CrlEntry> {
  const base = now.getTime() - 30 * 86_400_000;
  for (let i = 0; i < count; i += 1) {
    const reason = REASONS[i % REASONS.length] ?? 'unspecified';
    const revokedAt = new Date(base + i * 1000);
    yield {
      serialHex: `5a${i.toString(16).padStart(30, '0')}`,
      revokedAt,
      reason,
      ...(reason === 'keyCompromise' ? { invalidityDate: new Date(revokedAt.getTime() - 3_600_000) } : {}),
    };
  }
}

/**
 * CRL build time and DER size at each size, by calling `buildCrl` directly (what publishing
 * does after reading the revoked rows); each size is built `repetitions` times.
 */
export async function benchCrlBuild(plan: BenchPlan, log: (line: string) => void): Promise<CrlBuildResult[]> {
  const now = new Date();
  const issuer = await benchIssuer(now);
  const build = (count: number, crlNumber: bigint) =>
    buildCrl({
      issuerCertificate: issuer.certificate,
      privateKey: issuer.privateKey,
      keyAlgorithm: issuer.keyAlgorithm,
      crlNumber,
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 86_400_000),
      entries: revokedEntries(count, now),
    });
  // Sanity check (untimed): a small CRL parses and lists every entry.
  const check = AsnConvert.parse(await build(100, 1n), CertificateList);
  if (check.tbsCertList.revokedCertificates?.length !== 100) throw new Error('buildCrl produced a CRL without its 100 entries');
  const results: CrlBuildResult[] = [];
  let crlNumber = 2n;
  for (const entries of plan.crl.sizes) {
    const times: number[] = [];
    let derBytes = 0;
    for (let repetition = 0; repetition < plan.repetitions; repetition += 1) {
      const started = performance.now();
      const der = await build(entries, crlNumber);
      times.push(performance.now() - started);
      crlNumber += 1n;
      derBytes = der.byteLength;
    }
    const buildMs = summarize(times);
    log(`  CRL ${entries.toLocaleString('en-US')} entries: ${buildMs.median.toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(', ')}), ${(derBytes / 1e6).toFixed(2)} MB`);
    results.push({ entries, buildMs, derBytes });
  }
  return results;
}
