import express, { type Express, type Router } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Logger } from 'pino';
import type { IssuerCatalog } from '../app/issuer-catalog.ts';
import type { DatabaseHealth } from '../domain/ports.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import type { OpenApiDocument } from './openapi-document.ts';
import { requestContext, securityHeaders } from './request-context.ts';
import { caFileRoutes } from './routes/ca-files.routes.ts';
import { caRoutes } from './routes/ca.routes.ts';
import { healthRoutes } from './routes/health.routes.ts';
import { openApiRoutes } from './routes/openapi.routes.ts';

export interface HttpDependencies {
  logger: Logger;
  openApi: OpenApiDocument;
  /** Largest accepted request body, e.g. `64kb`. */
  bodyLimit: string;
  database: DatabaseHealth;
  /** The CA catalog, once the hierarchy is loaded. */
  catalog: () => IssuerCatalog | undefined;
}

/** Everything both listeners share, around the routes of one of them. */
function buildApp(deps: HttpDependencies, routers: Router[]): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');
  app.use(requestContext(deps.logger));
  app.use(securityHeaders);
  app.use(express.json({ limit: deps.bodyLimit, strict: true, type: ['application/json', 'application/*+json'] }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: structuredClone(deps.openApi.spec) as never,
      validateRequests: { allowUnknownQueryParameters: false },
      validateResponses: false,
      validateSecurity: false,
      ignoreUndocumented: false,
    }),
  );
  for (const router of routers) app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}

function requireCatalog(deps: HttpDependencies): IssuerCatalog {
  const catalog = deps.catalog();
  if (!catalog) throw new Error('the CA hierarchy must be loaded before routes are built');
  return catalog;
}

/** The API served over HTTPS. */
export function createApiApp(deps: HttpDependencies): Express {
  const catalog = requireCatalog(deps);
  return buildApp(deps, [
    healthRoutes({ database: deps.database, caKeysLoaded: () => deps.catalog() !== undefined }),
    openApiRoutes(deps.openApi.text),
    caRoutes(catalog),
  ]);
}

/** The plain-HTTP listener for relying parties: CA certificates (later CRLs and OCSP). */
export function createPublicApp(deps: HttpDependencies): Express {
  const catalog = requireCatalog(deps);
  return buildApp(deps, [
    healthRoutes({ database: deps.database, caKeysLoaded: () => deps.catalog() !== undefined }),
    caFileRoutes(catalog),
  ]);
}
