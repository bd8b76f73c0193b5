import { Router } from 'express';

/** Serves the OpenAPI document the requests are validated against. */
export function openApiRoutes(documentText: string): Router {
  const router = Router();
  router.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(documentText);
  });
  return router;
}
