import { Router } from 'express';
import { requireRole } from '../../domain/principal.ts';
import { requestContextOf } from '../authentication.ts';
import type { PrometheusMetrics } from '../prometheus-metrics.ts';

/**
 * `GET /metrics` on the API listener: the Prometheus exposition. Inventory facts (services,
 * expiry dates, issuers) are not public, so the scraper needs an `admin` or `auditor` API token.
 */
export function metricsRoutes(metrics: PrometheusMetrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    // Authorized before anything is rendered: a refused caller never causes database reads.
    requireRole(requestContextOf(res).principal, ['admin', 'auditor']);
    const { contentType, body } = await metrics.render();
    res.setHeader('Content-Type', contentType);
    res.send(body);
  });
  return router;
}
