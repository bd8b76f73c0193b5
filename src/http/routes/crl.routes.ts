import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { CrlPublisher } from '../../app/crl-publisher.service.ts';
import type { StoredCrl } from '../../domain/ports.ts';

/** Caches may keep a CRL at most this long (and never past nextUpdate): revocations reach relying parties within a minute. */
const MAX_CACHE_SECONDS = 60;

function pem(der: Uint8Array): string {
  const body = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return `-----BEGIN X509 CRL-----\n${body}-----END X509 CRL-----\n`;
}

/** Conditional GET on a stored CRL: ETag from its bytes, Last-Modified its thisUpdate. */
function sendCrl(req: Request, res: Response, crl: StoredCrl, type: string, body: string | Buffer, variant: string): void {
  const etag = `"${createHash('sha256').update(crl.der).digest('base64url').slice(0, 32)}-${variant}"`;
  const maxAge = Math.max(0, Math.min(MAX_CACHE_SECONDS, Math.floor((crl.nextUpdate.getTime() - Date.now()) / 1000)));
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', crl.thisUpdate.toUTCString());
  res.setHeader('Cache-Control', `public, max-age=${maxAge}, must-revalidate`);
  // Only the ETag decides: Last-Modified has whole-second precision, and two CRLs published
  // within one second would look unchanged to If-Modified-Since, hiding a revocation.
  const ifNoneMatch = req.get('if-none-match');
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').map((t) => t.trim().replace(/^W\//, '')).includes(etag)) {
    res.status(304).end();
    return;
  }
  // res.end, not res.send: express's send would apply If-Modified-Since on its own.
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.status(200).type(type).setHeader('Content-Length', String(bytes.length));
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

/** The latest stored CRL of each issuer, at the URL written in issued certificates. */
export function crlRoutes(crls: CrlPublisher): Router {
  const router = Router();
  router.get('/crl/:issuer.crl', async (req, res) => {
    const crl = await crls.latest(req.params.issuer);
    sendCrl(req, res, crl, 'application/pkix-crl', Buffer.from(crl.der), 'der');
  });
  router.get('/crl/:issuer.pem', async (req, res) => {
    const crl = await crls.latest(req.params.issuer);
    sendCrl(req, res, crl, 'application/x-pem-file', pem(crl.der), 'pem');
  });
  return router;
}
