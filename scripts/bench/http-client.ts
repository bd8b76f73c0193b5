import http from 'node:http';
import https from 'node:https';

export interface BenchResponse {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

export interface BenchRequest {
  method: string;
  /** Path and query, e.g. `/v1/certificates`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** Sends requests to one origin through one agent; fails on network errors, never on status. */
export interface BenchClient {
  request(request: BenchRequest): Promise<BenchResponse>;
  /** A JSON request with a bearer token; the parsed body (any status). */
  json<T>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): void;
}

export interface BenchClientOptions {
  /** `https://127.0.0.1:<port>` or `http://127.0.0.1:<port>`. */
  baseUrl: string;
  /** For https: the PEM of the only CA to trust (Trustroot's root), never the system store. */
  caPem?: string;
  /** Keep connections open between requests (default true). */
  keepAlive?: boolean;
  /** Most connections at once (default: unbounded). */
  maxSockets?: number;
}

/**
 * An HTTP(S) client for one origin. With keep-alive, a closed-loop load of concurrency c opens c
 * connections once and reuses them, as a busy client library would; without it every request
 * makes its own TCP connection and TLS handshake (a service booting).
 */
export function createBenchClient(options: BenchClientOptions): BenchClient {
  const base = new URL(options.baseUrl);
  const secure = base.protocol === 'https:';
  const agentOptions = {
    keepAlive: options.keepAlive ?? true,
    maxSockets: options.maxSockets ?? Infinity,
    // Enough free sockets to keep every connection of the largest closed loop open.
    maxFreeSockets: 1024,
    // Trustroot closes idle connections after 5 s (keepAliveTimeout). With a timeout set, the
    // agent drops an idle socket 1 s before the server's `Keep-Alive: timeout=5` hint, instead
    // of reusing one the server is closing ("socket hang up"). It does not cut a slow response.
    timeout: 4_000,
  };
  const agent = secure ? new https.Agent({ ...agentOptions, ca: options.caPem }) : new http.Agent(agentOptions);
  const request = (req: BenchRequest, retried = false): Promise<BenchResponse> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...req.headers };
      if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
      const send = secure ? https.request : http.request;
      const outgoing = send(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          method: req.method,
          path: req.path,
          headers,
          agent,
          ...(secure ? { ca: options.caPem } : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'], body: Buffer.concat(chunks) }),
          );
          response.on('error', reject);
        },
      );
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed just as it was reused (its idle timer can be late
        // when this process was busy, e.g. building a CRL): the request never reached the
        // server, so sending it once more on a new connection is what a client library does.
        if (outgoing.reusedSocket && error.code === 'ECONNRESET' && !retried) {
          request(req, true).then(resolve, reject);
          return;
        }
        reject(error);
      });
      outgoing.end(req.body);
    });
  return {
    request: (req) => request(req),
    json: async <T>(method: string, path: string, token: string, body?: unknown) => {
      const response = await request({
        method,
        path,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = response.body.toString('utf8');
      return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
    },
    close: () => agent.destroy(),
  };
}
