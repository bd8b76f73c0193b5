import { Router } from 'express';
import type { IssuerCatalog } from '../../app/issuer-catalog.ts';
import type { IssuerDto, IssuerListDto } from '../../contracts/ca.ts';

/** `/v1/ca` (issuers) and `/v1/ca/chain` (PEM chain of an issuing CA). Public information. */
export function caRoutes(catalog: IssuerCatalog): Router {
  const router = Router();
  router.get('/v1/ca', (_req, res) => {
    const issuers: IssuerDto[] = catalog.list().map((issuer) => ({
      name: issuer.name,
      kind: issuer.kind,
      environment: issuer.environment,
      ...(issuer.parent ? { parent: issuer.parent } : {}),
      subject: issuer.subject,
      serial: issuer.serial,
      fingerprintSha256: issuer.fingerprintSha256,
      keyAlgorithm: issuer.keyAlgorithm,
      notBefore: issuer.notBefore.toISOString(),
      notAfter: issuer.notAfter.toISOString(),
      certificateUrl: issuer.certificateUrl,
    }));
    const body: IssuerListDto = { issuers };
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(body);
  });
  router.get('/v1/ca/chain', (req, res) => {
    // The OpenAPI validator has already restricted `issuer` to the issuing CAs.
    const issuer = req.query.issuer === 'test-intermediate' ? 'test-intermediate' : 'intermediate';
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/pem-certificate-chain').send(catalog.chainPem(issuer));
  });
  return router;
}
