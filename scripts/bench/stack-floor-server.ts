/**
 * The server half of `stack-floor.ts`: the same stack as Trustroot's issuance route (Node's HTTPS
 * with the API listener's TLS settings, express with its JSON body parser, `pg` prepared
 * statements, every request committed before its answer) doing none of Trustroot's work: no
 * authentication, validation, CSR parsing, lint or audit; the `+crypto` shapes add only the
 * cryptography every issuance needs. What it costs is the floor of the stack and the database on
 * this machine. Configured by its parent through the environment: FLOOR_DATABASE_URL, FLOOR_TLS_KEY
 * / FLOOR_TLS_CERT (PEM), FLOOR_SHAPE. Prints `listening <port>`.
 */
import { createHash, generateKeyPairSync, KeyObject, randomFillSync, sign, verify, webcrypto } from 'node:crypto';
import https from 'node:https';
import express from 'express';
import pg from 'pg';
import { tlsContextOptions } from '../../src/http/listeners.ts';
import { sendTogether } from '../../src/storage/sql-session.ts';

export type FloorShape = 'one-commit' | 'trustroot-round-trips' | 'one-commit+crypto' | 'trustroot-round-trips+crypto';

const shape = process.env.FLOOR_SHAPE as FloorShape;
// In pipeline mode, as Trustroot's pool (src/storage/prisma-client.ts).
const pool = new pg.Pool({ connectionString: process.env.FLOOR_DATABASE_URL, max: 10, pipeline: true });
// The token reads of the transaction's shape, beside the transactions: from a pool of their own, so
// that 32 transactions in flight, each waiting on its read, cannot take every connection.
const lookupPool = new pg.Pool({ connectionString: process.env.FLOOR_DATABASE_URL, max: 10, pipeline: true });
// The database may stop before this process does at the end of a run; an idle client's error then is no news.
pool.on('error', () => undefined);
lookupPool.on('error', () => undefined);
const certificatePem = process.env.FLOOR_TLS_CERT ?? '';

const INSERT = { name: 'floor_insert', text: 'INSERT INTO floor_certificates (body) VALUES ($1) RETURNING id' };
const LOOKUP = { name: 'floor_lookup', text: 'SELECT id, payload FROM floor_lookups WHERE id = $1' };
const CONSUME = { name: 'floor_consume', text: 'UPDATE floor_lookups SET used = used + 1 WHERE id = $1 RETURNING used' };

/** A P-256 SubjectPublicKeyInfo up to its point's first octet (uncompressed, 0x04). */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
const issuingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

/** The DER element at `offset`: where its contents start and where it ends (short and long lengths). */
function derElement(der: Uint8Array, offset: number): { contents: number; end: number } {
  const first = der[offset + 1] ?? 0;
  if (first < 0x80) return { contents: offset + 2, end: offset + 2 + first };
  let length = 0;
  for (let index = 0; index < (first & 0x7f); index += 1) length = length * 256 + (der[offset + 2 + index] ?? 0);
  return { contents: offset + 2 + (first & 0x7f), end: offset + 2 + (first & 0x7f) + length };
}

/**
 * The cryptography no CA can skip for a P-256 CSR, done as Trustroot does it (see
 * src/domain/csr/parse-csr.ts and src/domain/x509/leaf-der-encoder.ts): the CSR key imported
 * from its raw point through WebCrypto, the CSR's signature checked, the key identifier's SHA-1,
 * a random serial, the leaf's signature and its SHA-256 fingerprint. The CSR is found by a bare
 * walk of its outer structure (the bench's own well-formed CSRs), not parsed or checked: that,
 * lint and everything else is Trustroot's work, not the floor's. Throws if the signature fails.
 */
async function necessaryCrypto(csrPem: string): Promise<Buffer> {
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const outer = derElement(der, 0);
  const info = derElement(der, outer.contents);
  const algorithm = derElement(der, info.end);
  const signature = derElement(der, algorithm.end);
  const infoBytes = der.subarray(outer.contents, info.end);
  const keyAt = der.indexOf(P256_SPKI_PREFIX);
  if (keyAt < 0) throw new Error('not a P-256 CSR');
  const point = der.subarray(keyAt + P256_SPKI_PREFIX.length - 1, keyAt + P256_SPKI_PREFIX.length + 64);
  const key = KeyObject.from(await webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']));
  if (!verify('sha256', infoBytes, { key, dsaEncoding: 'der' }, der.subarray(signature.contents + 1, signature.end))) throw new Error('CSR signature');
  const keyIdentifier = createHash('sha1').update(point).digest();
  const serial = randomFillSync(Buffer.alloc(16));
  // A leaf-sized to-be-signed part (the issued leaves' TBS is ~450 octets).
  const tbs = Buffer.concat([serial, keyIdentifier, infoBytes, infoBytes]).subarray(0, 450);
  const leaf = Buffer.concat([tbs, sign('sha256', tbs, { key: issuingKey, dsaEncoding: 'der' })]);
  createHash('sha256').update(leaf).digest();
  return leaf;
}

/**
 * What a request costs the database; `work` runs where Trustroot checks the CSR and signs (after
 * the token's read; in the transaction's shape, between its two round trips).
 */
async function store(body: string, work: () => Promise<unknown>): Promise<string> {
  if (shape === 'one-commit' || shape === 'one-commit+crypto') {
    await work();
    return (await pool.query<{ id: string }>({ ...INSERT, values: [body] })).rows[0]?.id ?? '';
  }
  // Trustroot's round trips for a lone bootstrap issuance since change 28: the token read with its
  // service and, on another connection at the same time, the transaction's first round trip
  // (BEGIN, blocked keys checked and token consumed, the audit lock with the read of the chain's
  // last hash, in one write); then the insert with COMMIT, as src/storage/issuance-group-writer.ts
  // (`openLoneIssuance`) sends them.
  const client = await pool.connect();
  try {
    await Promise.all([
      lookupPool.query({ ...LOOKUP, values: [1] }),
      ...sendTogether(client, () => [client.query('BEGIN'), client.query({ ...CONSUME, values: [4] }), client.query('SELECT pg_advisory_xact_lock(42); SELECT 1')]),
    ]);
    await work();
    const [inserted] = await Promise.all(sendTogether(client, () => [client.query<{ id: string }>({ ...INSERT, values: [body] }), client.query('COMMIT')] as const));
    return inserted.rows[0]?.id ?? '';
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

const app = express();
app.disable('x-powered-by');
app.post('/v1/certificates', express.json({ limit: '64kb' }), (req, res, next) => {
  const { csr } = req.body as { csr?: string };
  store(csr ?? '', () => (shape.endsWith('+crypto') ? necessaryCrypto(csr ?? '') : Promise.resolve())).then(
    (id) => res.status(201).json({ id, certificatePem, chainPem: certificatePem }),
    next,
  );
});

const server = https.createServer(
  {
    ...tlsContextOptions({ privateKeyPem: process.env.FLOOR_TLS_KEY ?? '', chainPem: certificatePem, clientCaPem: certificatePem }),
    requestCert: true,
    rejectUnauthorized: false,
  },
  app,
);
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end();
  void lookupPool.end();
});
