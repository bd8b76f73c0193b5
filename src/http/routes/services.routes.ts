import { Router } from 'express';
import type { ServiceAdministration, ServiceInput, ServiceUpdate } from '../../app/services.service.ts';
import type { TokenAdministration } from '../../app/tokens.service.ts';
import { requestContextOf } from '../authentication.ts';
import { bootstrapTokenDto, serviceDto } from '../presenters.ts';

/** Services (admin API) and their bootstrap tokens. Bodies are validated against openapi.yaml first. */
export function serviceRoutes(services: ServiceAdministration, tokens: TokenAdministration): Router {
  const router = Router();
  router.post('/v1/services', async (req, res) => {
    const service = await services.create(requestContextOf(res), req.body as ServiceInput);
    res.status(201).location(`/v1/services/${service.name}`).json(serviceDto(service));
  });
  router.get('/v1/services', async (_req, res) => {
    res.json({ services: (await services.list(requestContextOf(res))).map(serviceDto) });
  });
  router.get('/v1/services/:name', async (req, res) => {
    res.json(serviceDto(await services.get(requestContextOf(res), req.params.name)));
  });
  router.patch('/v1/services/:name', async (req, res) => {
    res.json(serviceDto(await services.update(requestContextOf(res), req.params.name, req.body as ServiceUpdate)));
  });
  router.post('/v1/services/:name/disable', async (req, res) => {
    res.json(serviceDto(await services.update(requestContextOf(res), req.params.name, { enabled: false })));
  });
  router.post('/v1/services/:name/bootstrap-tokens', async (req, res) => {
    const body = (req.body ?? {}) as { ttl?: number | string; sans?: string[] };
    const minted = await tokens.mintBootstrapToken(requestContextOf(res), req.params.name, body);
    res.status(201).json(bootstrapTokenDto(minted));
  });
  return router;
}
