import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { recordSecret, recordSecretsIn } from './secret-ledger.ts';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  /** The server's leaf certificate (DER) as seen in the handshake. */
  peerCertificateDer: Buffer | undefined;
}

export interface HttpsRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** PEM of the CA(s) to trust; the request fails if the server's chain does not verify. */
  ca: string;
  /** Client certificate and key for mTLS. */
  cert?: string;
  key?: string;
}

/** A real HTTPS request that verifies the server against `ca` only (never the system store). */
export function httpsRequest(url: string, options: HttpsRequestOptions): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        const peer = (response.socket as TLSSocket).getPeerCertificate?.();
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const body = Buffer.concat(chunks);
          if (String(response.headers['content-type'] ?? '').includes('json')) {
            try {
              recordSecretsIn(JSON.parse(body.toString('utf8')));
            } catch {
              // not JSON after all: nothing to record
            }
          }
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            text: body.toString('utf8'),
            peerCertificateDer: peer?.raw,
          });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    const authorization = options.headers?.authorization ?? options.headers?.Authorization;
    if (authorization) recordSecret(authorization.replace(/^Bearer\s+/i, ''));
    if (options.key) recordSecret(options.key);
    if (typeof options.body === 'string') {
      try {
        recordSecretsIn(JSON.parse(options.body));
      } catch {
        // not JSON: nothing to record
      }
    }
    if (options.body !== undefined) request.write(options.body);
    request.end();
  });
}
