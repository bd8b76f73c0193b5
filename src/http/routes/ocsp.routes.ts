import { Router, type Request, type Response } from 'express';
import type { OcspResponderService } from '../../app/ocsp-responder.service.ts';

/** RFC 6960 requests are small; a larger body is answered malformedRequest without being read whole. */
const MAX_OCSP_REQUEST_BYTES = 8 * 1024;

/** Reads at most `limit` bytes of a request body; undefined when it is longer. */
function readBody(req: Request, limit: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : new Uint8Array(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/**
 * OCSP for each issuer at `/ocsp/<issuer>`: POST with `application/ocsp-request`, or GET with
 * the base64 request in the path. Every answer is an OCSPResponse (never a problem document).
 * Mounted before the JSON parser and the OpenAPI validator, which do not speak DER.
 */
export function ocspRoutes(responder: OcspResponderService): Router {
  const router = Router();
  const send = (res: Response, der: Uint8Array) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/ocsp-response').send(Buffer.from(der));
  };
  router.post('/ocsp/:issuer', async (req, res) => {
    const body = await readBody(req, MAX_OCSP_REQUEST_BYTES);
    send(res, await responder.respond(req.params.issuer, body ?? new Uint8Array()));
  });
  router.get('/ocsp/:issuer/*request', async (req, res) => {
    const segments = (req.params as unknown as { request: string[] }).request;
    // Express has already percent-decoded the segments (decoding again would throw on a '%').
    // Clients differ on encoding '/' inside the base64; accept both, and URL-safe base64 too.
    const encoded = segments.join('/').replace(/-/g, '+').replace(/_/g, '/');
    const der = encoded.length <= (MAX_OCSP_REQUEST_BYTES * 4) / 3 + 4 ? new Uint8Array(Buffer.from(encoded, 'base64')) : new Uint8Array();
    send(res, await responder.respond(req.params.issuer, der));
  });
  return router;
}
