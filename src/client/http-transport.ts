import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

/** One HTTP(S) exchange as the SDK makes it: a fresh connection, bounded in time and size. */
export interface TransportRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** For `https:` URLs: the only trust anchor(s), and the client certificate for mTLS. */
  tls?: { ca: string; cert?: string; key?: string };
  /** Bound on connecting (TCP and TLS handshake), ms. */
  connectTimeoutMs: number;
  /** Bound on the response once connected, ms. */
  responseTimeoutMs: number;
  /** Larger responses are refused (bytes). */
  maxResponseBytes: number;
}

export interface TransportResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** OpenSSL / Node verification failures: the peer is not who the trust anchor vouches for. */
const TLS_VERIFICATION_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

/**
 * A request that got no complete response. `connected` says whether the connection (for HTTPS:
 * the TLS handshake) was established, i.e. whether the request may have reached the server —
 * only requests that cannot have been sent are safe to repeat whatever their method.
 */
export class TransportError extends Error {
  constructor(
    message: string,
    /** Node's error code, e.g. `ECONNREFUSED`, `ETIMEDOUT`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`. */
    readonly code: string,
    readonly connected: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TransportError';
  }

  /** The server's certificate failed verification against the trust anchor. */
  get tlsVerification(): boolean {
    return TLS_VERIFICATION_CODES.has(this.code);
  }
}

/**
 * Sends one request on a new connection (no keep-alive: the SDK's requests are rare, and a
 * stale pooled socket would turn a harmless retry into an ambiguous one). HTTPS verifies the
 * server against `tls.ca` only — never the system store — and checks the host name.
 */
export function sendHttpRequest(request: TransportRequest): Promise<TransportResponse> {
  return new Promise((resolve, reject) => {
    const secure = request.url.protocol === 'https:';
    let connected = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (error: TransportError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outgoing.destroy();
      reject(error);
    };
    const options: https.RequestOptions = {
      method: request.method,
      headers: {
        ...request.headers,
        ...(request.body !== undefined ? { 'content-length': String(Buffer.byteLength(request.body)) } : {}),
      },
      agent: false,
      ...(secure && request.tls
        ? { ca: request.tls.ca, cert: request.tls.cert, key: request.tls.key, rejectUnauthorized: true, minVersion: 'TLSv1.2' as const }
        : {}),
    };
    let outgoing: http.ClientRequest;
    try {
      outgoing = (secure ? https : http).request(request.url, options, onResponse);
    } catch (error) {
      // Bad TLS material (an unreadable key) throws while the socket is being set up.
      reject(wrap(error as NodeJS.ErrnoException, false, request.url));
      return;
    }
    function onResponse(response: http.IncomingMessage): void {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxResponseBytes) {
          fail(new TransportError(`the response from ${request.url.origin} is larger than ${request.maxResponseBytes} bytes`, 'ERR_RESPONSE_TOO_LARGE', true));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
      });
      response.on('error', (error: NodeJS.ErrnoException) => fail(wrap(error, connected, request.url)));
    }
    timer = setTimeout(
      () => fail(new TransportError(`connecting to ${request.url.origin} timed out after ${request.connectTimeoutMs} ms`, 'ETIMEDOUT', false)),
      request.connectTimeoutMs,
    );
    outgoing.on('socket', (socket: Socket) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        connected = true;
        clearTimeout(timer);
        timer = setTimeout(
          () => fail(new TransportError(`${request.url.origin} did not answer within ${request.responseTimeoutMs} ms`, 'ETIMEDOUT', true)),
          request.responseTimeoutMs,
        );
      });
    });
    outgoing.on('error', (error: NodeJS.ErrnoException) => fail(wrap(error, connected, request.url)));
    if (request.body !== undefined) outgoing.write(request.body);
    outgoing.end();
  });
}

function wrap(error: NodeJS.ErrnoException, connected: boolean, url: URL): TransportError {
  if (error instanceof TransportError) return error;
  const code = error.code ?? 'ERR_NETWORK';
  return new TransportError(`${url.origin}: ${error.message}`, code, connected, { cause: error });
}
