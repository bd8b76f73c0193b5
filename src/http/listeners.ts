import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Express } from 'express';

/** Modern AEAD suites only for TLS 1.2 (TLS 1.3 suites are all acceptable and set by Node). */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsMaterial {
  privateKeyPem: string;
  /** Leaf then intermediates. */
  chainPem: string;
  /** CA certificates that client certificates may chain to (requested, not required). */
  clientCaPem: string;
}

/** TLS settings of the API listener, also used when the certificate is rotated. */
export function tlsContextOptions(material: TlsMaterial): SecureContextOptions {
  return {
    key: material.privateKeyPem,
    cert: material.chainPem,
    ca: material.clientCaPem,
    minVersion: 'TLSv1.2',
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
  };
}

/** Bounds that keep slow or idle clients from holding sockets (slowloris). */
function applyTimeouts(server: http.Server): void {
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export interface RunningListener {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

function running(server: http.Server, port: number): RunningListener {
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      }),
  };
}

/**
 * The HTTPS API listener: TLS 1.2+, client certificates requested but not required (mTLS
 * callers are recognised; others authenticate with tokens).
 */
export async function startHttpsListener(
  app: Express,
  material: TlsMaterial,
  port: number,
  host: string,
): Promise<RunningListener & { server: https.Server }> {
  const server = https.createServer({ ...tlsContextOptions(material), requestCert: true, rejectUnauthorized: false }, app);
  applyTimeouts(server);
  const boundPort = await listen(server, port, host);
  return { ...running(server, boundPort), server };
}

/** The plain-HTTP listener for public material. */
export async function startHttpListener(app: Express, port: number, host: string): Promise<RunningListener> {
  const server = http.createServer(app);
  applyTimeouts(server);
  return running(server, await listen(server, port, host));
}
