import https from 'node:https';
import type { Socket } from 'node:net';
import { checkServerIdentity, createSecureContext, type PeerCertificate, type TLSSocket } from 'node:tls';
import { canonicalSerial, type MtlsCredentials } from './mtls-credentials.ts';

/*
 * Calls another service over mTLS with the current credentials:
 *
 * - trusts the Trustroot root only and checks the server's certificate against the CRLs;
 * - checks that the server is the service we mean: its certificate must carry `serverName`
 *   (e.g. `id-verification.svc`) whatever address we dialled;
 * - presents our certificate, and keeps connections alive per credential generation: when the
 *   certificate or the CRLs change, new requests go through a new agent (new handshakes with
 *   the new certificate and CRLs), while the old agent's connections finish their requests and
 *   close.
 */

export interface MtlsClientOptions {
  credentials: MtlsCredentials;
  /** E.g. `https://id-verification.internal:9443`. */
  baseUrl: string;
  /** DNS name the server's certificate must carry. */
  serverName: string;
  /** Bound on one call, ms (default 10 000). */
  timeoutMs?: number;
}

export interface PeerResponse<T> {
  status: number;
  body: T;
  /** Serial of the certificate the server presented. */
  serverSerial: string;
}

/** A call that got no response; `code` is Node's (ECONNRESET, ERR_SSL_…, ERR_TLS_CERT_ALTNAME_INVALID…). */
export class PeerCallError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PeerCallError';
  }
}

export class MtlsClient {
  private agent: https.Agent;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: MtlsClientOptions) {
    this.agent = this.newAgent();
    this.unsubscribe = options.credentials.onChange(() => {
      const previous = this.agent;
      this.agent = this.newAgent();
      retire(previous);
    });
  }

  /** POSTs JSON to `path` and parses the JSON answer (any status). */
  async postJson<T>(path: string, body: unknown): Promise<PeerResponse<T>> {
    try {
      return await this.send<T>(path, body);
    } catch (error) {
      // A kept-alive connection the server closed meanwhile fails on first use: try once more on
      // a new one (the request cannot have been processed).
      if (error instanceof PeerCallError && error.code === 'ERR_REUSED_SOCKET_RESET') return this.send<T>(path, body);
      throw error;
    }
  }

  /** Closes every connection; the client cannot be used afterwards. */
  close(): void {
    this.unsubscribe();
    this.agent.destroy();
  }

  private newAgent(): https.Agent {
    const { credentials, serverName } = this.options;
    return new https.Agent({
      keepAlive: true,
      // No TLS session resumption: every new connection verifies the server's certificate against
      // the current CRLs (and Node reports no peer certificate on a resumed client session).
      // Keep-alive already saves the handshakes that matter.
      maxCachedSessions: 0,
      secureContext: createSecureContext(credentials.clientContextOptions()),
      // SNI and the identity check use the service name, not the address dialled.
      servername: serverName,
      checkServerIdentity: (_host: string, certificate: PeerCertificate) => checkServerIdentity(serverName, certificate),
    });
  }

  private send<T>(path: string, body: unknown): Promise<PeerResponse<T>> {
    const text = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = https.request(
        new URL(path, this.options.baseUrl),
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), accept: 'application/json' },
          timeout: this.options.timeoutMs ?? 10_000,
        },
        (response) => {
          const serverSerial = canonicalSerial((response.socket as TLSSocket).getPeerCertificate().serialNumber ?? '');
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            try {
              resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T, serverSerial });
            } catch (error) {
              reject(new PeerCallError(`${path} answered ${response.statusCode ?? 0} with a body that is not JSON`, 'ERR_NOT_JSON', { cause: error }));
            }
          });
        },
      );
      request.on('timeout', () => request.destroy(Object.assign(new Error(`${path} timed out`), { code: 'ETIMEDOUT' })));
      request.on('error', (error: NodeJS.ErrnoException) => {
        const code = request.reusedSocket && error.code === 'ECONNRESET' ? 'ERR_REUSED_SOCKET_RESET' : (error.code ?? 'ERR_NETWORK');
        reject(new PeerCallError(`calling ${path}: ${error.message}`, code, { cause: error }));
      });
      request.end(text);
    });
  }
}

/** Lets an agent's busy connections finish, then closes them instead of reusing them. */
function retire(agent: https.Agent): void {
  agent.on('free', (socket: Socket) => socket.destroy());
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
}
