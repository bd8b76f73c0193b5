/**
 * The server half of `stack-floor.ts`: the same stack as Trustroot's issuance route (Node's
 * HTTPS with the API listener's TLS settings, express with its JSON body parser, `pg` prepared
 * statements, every request committed before its answer) doing none of Trustroot's work: no
 * authentication, validation, CSR check, signature, lint or audit. What it costs is the floor of
 * the stack and the database on this machine. Configured by its parent through the environment:
 * FLOOR_DATABASE_URL, FLOOR_TLS_KEY / FLOOR_TLS_CERT (PEM), FLOOR_SHAPE. Prints `listening <port>`.
 */
import https from 'node:https';
import express from 'express';
import pg from 'pg';
import { tlsContextOptions } from '../../src/http/listeners.ts';
import { sendTogether } from '../../src/storage/sql-session.ts';

export type FloorShape = 'one-commit' | 'trustroot-round-trips';

const shape = process.env.FLOOR_SHAPE as FloorShape;
// In pipeline mode, as Trustroot's pool (src/storage/prisma-client.ts).
const pool = new pg.Pool({ connectionString: process.env.FLOOR_DATABASE_URL, max: 10, pipeline: true });
// The database may stop before this process does at the end of a run; an idle client's error then is no news.
pool.on('error', () => undefined);
const certificatePem = process.env.FLOOR_TLS_CERT ?? '';

const INSERT = { name: 'floor_insert', text: 'INSERT INTO floor_certificates (body) VALUES ($1) RETURNING id' };
const LOOKUP = { name: 'floor_lookup', text: 'SELECT id, payload FROM floor_lookups WHERE id = $1' };
const CONSUME = { name: 'floor_consume', text: 'UPDATE floor_lookups SET used = used + 1 WHERE id = $1 RETURNING used' };

/** What a request costs the database. */
async function store(body: string): Promise<string> {
  if (shape === 'one-commit') return (await pool.query<{ id: string }>({ ...INSERT, values: [body] })).rows[0]?.id ?? '';
  // Trustroot's round trips for a lone bootstrap issuance: the token with its service, then a
  // transaction of two (BEGIN, blocked keys checked and token consumed, the audit lock with the
  // read of the chain's last hash, in one write; then the insert with COMMIT), as
  // src/storage/issuance-group-writer.ts sends them.
  await pool.query({ ...LOOKUP, values: [1] });
  const client = await pool.connect();
  try {
    await Promise.all(sendTogether(client, () => [client.query('BEGIN'), client.query({ ...CONSUME, values: [4] }), client.query('SELECT pg_advisory_xact_lock(42); SELECT 1')]));
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
  store(csr ?? '').then(
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
});
