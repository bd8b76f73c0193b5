import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { canonicalSerial, type Log, type MtlsCredentials } from './mtls-credentials.ts';

/*
 * An HTTPS server that only talks to Trustroot-certified peers it was told to trust:
 *
 * 1. TLS: a client certificate is required and must chain to the Trustroot root (the only
 *    `ca`), and OpenSSL checks it against the loaded CRLs — a revoked or foreign certificate
 *    never completes the handshake, and no request is read.
 * 2. Revocation of what TLS no longer re-checks: connections already open when a CRL arrives
 *    and resumed TLS sessions (which skip certificate verification) are checked against the
 *    CRL's serials and closed.
 * 3. Identity: a valid Trustroot certificate proves *who* the caller is, not that it may call;
 *    its DNS names must include one of `allowedPeers`, else 403.
 *
 * When the credentials change (renewal, CRL refresh) the listener keeps running:
 * `setSecureContext` swaps the certificate and CRLs for every new handshake.
 */

/** The authenticated, allowed caller of a request. */
export interface Peer {
  /** The allowed DNS name the certificate carries. */
  name: string;
  serial: string;
}

export type MtlsHandler = (request: IncomingMessage, response: ServerResponse, peer: Peer) => Promise<void>;

export interface MtlsServerOptions {
  credentials: MtlsCredentials;
  /** DNS names (SANs) of the callers allowed, e.g. `compliance.svc`. */
  allowedPeers: readonly string[];
  log: Log;
}

export interface MtlsServer {
  server: https.Server;
  /** Listens and resolves with the bound port (0 picks a free one). */
  listen(port: number, host: string): Promise<number>;
  /** Closes the listener and every open connection. */
  close(): Promise<void>;
}

/** Serial of the peer certificate of an authenticated socket. */
function peerSerial(socket: TLSSocket): string {
  return canonicalSerial(socket.getPeerCertificate().serialNumber ?? '');
}

export function createMtlsServer(options: MtlsServerOptions, handler: MtlsHandler): MtlsServer {
  const { credentials, allowedPeers, log } = options;
  const open = new Set<TLSSocket>();

  const server = https.createServer(
    { ...credentials.serverContextOptions(), requestCert: true, rejectUnauthorized: true },
    (request, response) => {
      const der = (request.socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined;
      if (der === undefined) {
        // Unreachable with requestCert + rejectUnauthorized; fail closed all the same.
        response.destroy();
        return;
      }
      const certificate = new X509Certificate(der);
      // Exact names only: a wildcard certificate does not stand for a particular caller.
      const name = allowedPeers.find((allowed) => certificate.checkHost(allowed, { subject: 'never', wildcards: false }) !== undefined);
      const serial = canonicalSerial(certificate.serialNumber);
      if (name === undefined) {
        log('peer-refused', { reason: 'not an allowed peer', serial, names: certificate.subjectAltName, path: request.url });
        sendJson(response, 403, { error: 'forbidden', detail: 'this service does not accept calls from your identity' });
        return;
      }
      handler(request, response, { name, serial }).catch((error: unknown) => {
        log('request-failed', { error: String(error), path: request.url });
        if (!response.headersSent) sendJson(response, 500, { error: 'internal' });
        else response.destroy();
      });
    },
  );

  // Every handshake that completed. A resumed session was verified when it was first made, so
  // the CRL is consulted again here.
  server.on('secureConnection', (socket: TLSSocket) => {
    const serial = peerSerial(socket);
    if (serial === '' || credentials.isRevoked(serial)) {
      log('peer-refused', { reason: serial === '' ? 'no peer certificate' : 'certificate revoked', serial, sessionResumed: socket.isSessionReused() });
      socket.destroy();
      return;
    }
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });

  // Handshakes that failed: no certificate, a foreign or revoked one. Node sets
  // `authorizationError` to OpenSSL's verdict before it drops the connection: its last
  // verification error, e.g. CERT_REVOKED (a self-signed stranger may read UNABLE_TO_GET_CRL, as
  // OpenSSL goes on checking after the first failure).
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    const verdict: unknown = socket.authorizationError;
    log('peer-refused', { reason: verdict ? String(verdict) : (error.code ?? error.message), detail: error.message, remote: socket.remoteAddress });
  });

  const unsubscribe = credentials.onChange((change) => {
    server.setSecureContext(credentials.serverContextOptions());
    log('tls-context-reloaded', { reason: change.reason, serial: credentials.serial, crlNumber: credentials.crlNumber });
    if (change.reason === 'certificate') {
      // Peers see the new certificate on their next call; busy connections finish first.
      server.closeIdleConnections();
      return;
    }
    for (const socket of open) {
      const serial = peerSerial(socket);
      if (!credentials.isRevoked(serial)) continue;
      log('peer-refused', { reason: 'certificate revoked', serial, openConnection: true });
      socket.destroy();
    }
  });

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise((resolve, reject) => {
        unsubscribe();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Reads a JSON request body; `undefined` when it is not JSON, or longer than `limit` bytes (the connection is then dropped). */
export async function readJson(request: IncomingMessage, limit = 16 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}
