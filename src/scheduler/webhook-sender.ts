import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isForbiddenWebhookAddress } from '../domain/webhook-url.ts';
import type { WebhookSender } from '../domain/ports.ts';

/** An error with a stable `code`, for callers that describe failures without quoting messages. */
function codedError(message: string, code: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

type ResolvedAddress = { address: string; family: number };

/**
 * `lookup` for the request's socket: the host name is resolved here, every address it gives is
 * checked, and the socket connects to the address checked — so a name that resolves to a
 * link-local or metadata address at delivery time is refused, and cannot be swapped between the
 * check and the connection (DNS rebinding). Answers in the form the caller asked for (`all`).
 */
function checkedLookup(resolve: typeof dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses: ResolvedAddress[]) => {
      if (error) return callback(error, '', 0);
      const forbidden = addresses.find((entry) => isForbiddenWebhookAddress(entry.address));
      if (forbidden !== undefined || addresses.length === 0) {
        return callback(codedError('the webhook host resolves to a forbidden address', 'ERR_WEBHOOK_ADDRESS_FORBIDDEN'), '', 0);
      }
      if (options.all) return (callback as unknown as (error: null, addresses: ResolvedAddress[]) => void)(null, addresses);
      const [first] = addresses as [ResolvedAddress];
      return callback(null, first.address, first.family);
    });
  };
}

/**
 * Posts webhooks with Node's `http`/`https` clients.
 *
 * - The whole exchange up to the response headers is bounded by `timeoutMs`
 *   (`AbortSignal.timeout`); a timeout rejects with an `AbortError`.
 * - Redirects are never followed: the 3xx status is returned, and the caller counts it as a
 *   failure. Following one would let a receiver point Trustroot, with its signed request, at any
 *   address, including ones the URL check at registration refused.
 * - The receiver's address is checked at every delivery, not only at registration: the host name
 *   is resolved by the socket's own lookup, and an address in a link-local or unspecified range
 *   (cloud metadata lives there) fails the attempt with code `ERR_WEBHOOK_ADDRESS_FORBIDDEN`
 *   before any connection; the socket connects to the very address that was checked.
 * - The response body is never read: it is discarded at once, so a receiver cannot hold the
 *   connection or fill memory by streaming an endless answer; only the status matters.
 * - Only `http:` and `https:` URLs are sent to (again here, in case a stored URL predates the
 *   registration check); anything else rejects with code `ERR_WEBHOOK_URL_SCHEME`.
 *
 * Network failures reject with the socket's error (a `code` such as `ECONNREFUSED` or
 * `ECONNRESET`).
 */
export class HttpWebhookSender implements WebhookSender {
  private readonly lookup: LookupFunction;

  /** @param resolve the name resolver (default `dns.lookup`); tests give their own. */
  constructor(resolve: typeof dns.lookup = dns.lookup) {
    this.lookup = checkedLookup(resolve);
  }

  /**
   * @param timeoutMs bound on the request, in milliseconds, a positive integer.
   * @returns the HTTP status of the response, whatever it is.
   */
  post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number }> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return Promise.reject(codedError('webhook URL is not a URL', 'ERR_WEBHOOK_URL_INVALID'));
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      return Promise.reject(codedError('webhook URL must be http or https', 'ERR_WEBHOOK_URL_SCHEME'));
    }
    // A literal address is checked here: no lookup runs for it.
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (isForbiddenLiteral(literal)) {
      return Promise.reject(codedError('the webhook host is a forbidden address', 'ERR_WEBHOOK_ADDRESS_FORBIDDEN'));
    }
    const send = target.protocol === 'https:' ? https.request : http.request;
    const payload = Buffer.from(body, 'utf8');
    return new Promise((resolve, reject) => {
      const request = send(
        target,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(payload.length) },
          lookup: this.lookup,
          signal: AbortSignal.timeout(timeoutMs),
          // One connection per delivery: nothing pooled outlives the attempt.
          agent: false,
        },
        (response) => {
          // Only the status matters; discard what the receiver sends and let the socket go.
          response.destroy();
          resolve({ status: response.statusCode ?? 0 });
        },
      );
      request.once('error', reject);
      request.end(payload);
    });
  }
}

function isForbiddenLiteral(host: string): boolean {
  return isIP(host) !== 0 && isForbiddenWebhookAddress(host);
}
