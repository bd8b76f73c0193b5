import { Router } from 'express';
import { checkReadiness } from '../../app/readiness.ts';
import type { DatabaseHealth } from '../../domain/ports.ts';
import type { ReadinessDto } from '../../contracts/ca.ts';
import { sendProblem } from '../problem.ts';

export interface HealthRouteDependencies {
  database: DatabaseHealth;
  caKeysLoaded: () => boolean;
}

/** `/healthz` (the process answers) and `/readyz` (database reachable, CA keys loaded). */
export function healthRoutes(deps: HealthRouteDependencies): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const report = await checkReadiness(deps.database, deps.caKeysLoaded());
    if (!report.ready) {
      const failed = Object.entries(report.checks)
        .filter(([, state]) => state !== 'ok')
        .map(([name]) => name);
      res.setHeader('Retry-After', '5');
      sendProblem(res, 'unavailable', `not ready: ${failed.join(', ')}`, { checks: report.checks });
      return;
    }
    const body: ReadinessDto = { status: 'ready', checks: report.checks };
    res.json(body);
  });
  return router;
}
