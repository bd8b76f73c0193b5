import { Router } from 'express';
import type { IssuerCatalog } from '../../app/issuer-catalog.ts';

/** CA certificates for relying parties on the public listener: `/ca/<name>.pem` and `.crt` (DER). */
export function caFileRoutes(catalog: IssuerCatalog): Router {
  const router = Router();
  router.get('/ca/:name.pem', (req, res) => {
    const { pem } = catalog.certificate(req.params.name);
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('application/x-pem-file').send(pem);
  });
  router.get('/ca/:name.crt', (req, res) => {
    const { der } = catalog.certificate(req.params.name);
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('application/pkix-cert').send(Buffer.from(der));
  });
  return router;
}
