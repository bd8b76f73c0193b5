import type { WebhookSender } from '../domain/ports.ts';

/** An error with a stable `code`, for callers that describe failures without quoting messages. */
function codedError(message: string, code: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/**
 * Posts webhooks with Node's global `fetch`.
 *
 * - The whole exchange up to the response headers is bounded by `timeoutMs`
 *   (`AbortSignal.timeout`); a timeout rejects with a `TimeoutError`.
 * - Redirects are never followed (`redirect: 'manual'`): the 3xx status is returned, and the
 *   caller counts it as a failure. Following one would let a receiver point Trustroot, with its
 *   signed request, at any address, including ones the URL check at registration refused.
 * - The response body is never read: it is cancelled at once, so a receiver cannot hold the
 *   connection or fill memory by streaming an endless answer; only the status matters.
 * - Only `http:` and `https:` URLs are sent to (again here, in case a stored URL predates the
 *   registration check); anything else rejects with code `ERR_WEBHOOK_URL_SCHEME`.
 *
 * Network failures reject with fetch's own error (its `cause` carries a code such as
 * `ECONNRESET` or `UND_ERR_SOCKET`).
 */
export class FetchWebhookSender implements WebhookSender {
  /**
   * @param timeoutMs bound on the request, in milliseconds, a positive integer.
   * @returns the HTTP status of the response, whatever it is.
   */
  async post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number }> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw codedError('webhook URL is not a URL', 'ERR_WEBHOOK_URL_INVALID');
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw codedError('webhook URL must be http or https', 'ERR_WEBHOOK_URL_SCHEME');
    }
    const response = await fetch(target, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Release the connection without reading what the receiver sent; a failure to cancel a body
    // that is already closed or errored changes nothing about the outcome.
    await response.body?.cancel().catch(() => undefined);
    return { status: response.status };
  }
}
