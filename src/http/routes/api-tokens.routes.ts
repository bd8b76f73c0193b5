import { Router } from 'express';
import type { TokenAdministration } from '../../app/tokens.service.ts';
import { requestContextOf } from '../authentication.ts';
import { apiTokenDto } from '../presenters.ts';

/** API tokens: created (the secret shown once), listed and revoked by admins. */
export function apiTokenRoutes(tokens: TokenAdministration): Router {
  const router = Router();
  router.post('/v1/api-tokens', async (req, res) => {
    const { record, token } = await tokens.createApiToken(requestContextOf(res), req.body as { role: string; name: string; ttl?: number | string });
    res.status(201).json({ ...apiTokenDto(record), token });
  });
  router.get('/v1/api-tokens', async (_req, res) => {
    res.json({ tokens: (await tokens.listApiTokens(requestContextOf(res))).map(apiTokenDto) });
  });
  router.delete('/v1/api-tokens/:id', async (req, res) => {
    res.json(apiTokenDto(await tokens.revokeApiToken(requestContextOf(res), req.params.id)));
  });
  return router;
}
