import { Router, type Request, type Response } from 'express';
import type { InventoryFilters, InventoryService } from '../../app/inventory.service.ts';
import type { IssuanceService, IssueRequest, IssuedCertificate } from '../../app/issuance.service.ts';
import { parseRequestedTtl } from '../../domain/validity.ts';
import { requestContextOf } from '../authentication.ts';
import { queryParam } from '../query-param.ts';
import { certificateDto, issuedCertificateDto } from '../presenters.ts';

const PEM_CHAIN = 'application/pem-certificate-chain';

/** JSON by default; the PEM chain (leaf first) when the caller prefers it. */
function sendIssued(req: Request, res: Response, issued: IssuedCertificate, status: number): void {
  res.status(status).location(`/v1/certificates/${issued.serialHex}`);
  if (req.accepts(['application/json', PEM_CHAIN]) === PEM_CHAIN) {
    res.type(PEM_CHAIN).send(issued.certificatePem + issued.chainPem);
    return;
  }
  res.json(issuedCertificateDto(issued));
}

/** Issuance, renewal and the inventory. */
export function certificateRoutes(issuance: IssuanceService, inventory: InventoryService): Router {
  const router = Router();
  router.post('/v1/certificates', async (req, res) => {
    sendIssued(req, res, await issuance.issue(requestContextOf(res), req.body as IssueRequest), 201);
  });
  router.post('/v1/certificates/renew', async (req, res) => {
    const renewed = await issuance.renew(requestContextOf(res), (req.body ?? {}) as { csr?: string });
    sendIssued(req, res, renewed, renewed.resent ? 200 : 201);
  });
  router.get('/v1/certificates', async (req, res) => {
    const within = queryParam(req, 'expiringWithin');
    const before = queryParam(req, 'expiringBefore');
    const limit = queryParam(req, 'limit');
    const filters: InventoryFilters = {
      service: queryParam(req, 'service'),
      status: queryParam(req, 'status') as InventoryFilters['status'],
      profile: queryParam(req, 'profile'),
      issuer: queryParam(req, 'issuer'),
      expiringBefore: before ? new Date(before) : undefined,
      expiringWithinSeconds: within ? parseRequestedTtl(within, 'expiringWithin') : undefined,
      nameContains: queryParam(req, 'nameContains'),
      spkiSha256: queryParam(req, 'spkiSha256'),
      sort: queryParam(req, 'sort') as InventoryFilters['sort'],
      order: queryParam(req, 'order') as InventoryFilters['order'],
      limit: limit ? Number(limit) : undefined,
      cursor: queryParam(req, 'cursor'),
    };
    const page = await inventory.list(requestContextOf(res), filters);
    res.json({ certificates: page.items.map(certificateDto), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
  });
  router.get('/v1/certificates/:serial.pem', async (req, res) => {
    const record = await inventory.get(requestContextOf(res), req.params.serial);
    res.type('application/x-pem-file').send(`-----BEGIN CERTIFICATE-----\n${Buffer.from(record.der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`);
  });
  router.get('/v1/certificates/:serial.der', async (req, res) => {
    const record = await inventory.get(requestContextOf(res), req.params.serial);
    res.type('application/pkix-cert').send(Buffer.from(record.der));
  });
  router.get('/v1/certificates/:serial', async (req, res) => {
    res.json(certificateDto(await inventory.get(requestContextOf(res), req.params.serial)));
  });
  return router;
}
