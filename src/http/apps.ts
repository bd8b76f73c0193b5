import express, { type Express, type Router } from 'express';
import type { Logger } from 'pino';
import type { CrlPublisher } from '../app/crl-publisher.service.ts';
import type { InventoryService } from '../app/inventory.service.ts';
import type { OcspResponderService } from '../app/ocsp-responder.service.ts';
import type { RevocationService } from '../app/revocation.service.ts';
import type { LifecycleAdministration } from '../app/lifecycle-admin.service.ts';
import { lifecycleRoutes } from './routes/lifecycle.routes.ts';
import type { AuditService } from '../app/audit.service.ts';
import { auditRoutes } from './routes/audit.routes.ts';
import type { IssuanceService } from '../app/issuance.service.ts';
import type { IssuerCatalog } from '../app/issuer-catalog.ts';
import type { ServiceAdministration } from '../app/services.service.ts';
import type { TokenAdministration } from '../app/tokens.service.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import type { DatabaseHealth } from '../domain/ports.ts';
import { authentication } from './authentication.ts';
import { rejectUnstorableText } from './unstorable-text.ts';
import { concurrencyCap, rateLimits, type RateLimitSettings } from './rate-limit.ts';
import type { PrometheusMetrics } from './prometheus-metrics.ts';
import { metricsRoutes } from './routes/metrics.routes.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import type { OpenApiDocument } from './openapi-document.ts';
import { requestContext, securityHeaders } from './request-context.ts';
import { caFileRoutes } from './routes/ca-files.routes.ts';
import { caRoutes } from './routes/ca.routes.ts';
import { healthRoutes } from './routes/health.routes.ts';
import { openApiRoutes } from './routes/openapi.routes.ts';
import { apiTokenRoutes } from './routes/api-tokens.routes.ts';
import { certificateRoutes, issuanceAhead } from './routes/certificates.routes.ts';
import { serviceRoutes } from './routes/services.routes.ts';
import { crlRoutes } from './routes/crl.routes.ts';
import { ocspRoutes } from './routes/ocsp.routes.ts';
import { revocationRoutes } from './routes/revocation.routes.ts';
import { requestValidation } from './request-validation.ts';

export interface HttpDependencies {
  logger: Logger;
  openApi: OpenApiDocument;
  /** Largest accepted request body, e.g. `64kb`. */
  bodyLimit: string;
  database: DatabaseHealth;
  /** The CA catalog, once the hierarchy is loaded. */
  catalog: () => IssuerCatalog | undefined;
  /** Both listeners record their requests; the API listener serves GET /metrics. */
  metrics: PrometheusMetrics;
  /** Rate limits of the API listener (issuance, renewal, token minting, failed authentication). */
  rateLimits: RateLimitSettings;
  /** Requests in progress per listener beyond which new ones get 503 at once. */
  maxConcurrentRequests: number;
}

/** What the public listener serves besides CA certificates. */
export interface PublicUseCases {
  crls: CrlPublisher;
  ocsp: OcspResponderService;
}

/** The use cases behind the API listener's authenticated routes. */
export interface ApiUseCases {
  authenticator: Authenticator;
  services: ServiceAdministration;
  tokens: TokenAdministration;
  issuance: IssuanceService;
  inventory: InventoryService;
  revocation: RevocationService;
  lifecycle: LifecycleAdministration;
  audit: AuditService;
}

/** Everything both listeners share, around the routes of one of them. */
function buildApp(
  deps: HttpDependencies,
  listener: 'api' | 'public',
  routers: Router[],
  authenticated?: Pick<ApiUseCases, 'authenticator' | 'issuance'>,
  binaryRouters: Router[] = [],
): Express {
  const app = express();
  app.disable('x-powered-by');
  // The API's answers are `Cache-Control: no-store` and none is documented with a 304: express's
  // default ETag let a client that sent it back in If-None-Match turn a GET into an undocumented
  // 304, and it hashed every answer (an issued certificate's ~3.5 KB, with SHA-1) for no client.
  // The public listener keeps it: its CA files may be cached, and its CRLs set their own
  // (crl.routes.ts).
  if (listener === 'api') app.set('etag', false);
  app.set('trust proxy', false);
  app.set('query parser', 'simple');
  // First, so that refusals by any later middleware are counted too.
  app.use(deps.metrics.httpMiddleware(listener));
  app.use(requestContext(deps.logger));
  app.use(securityHeaders);
  app.use(concurrencyCap(deps.maxConcurrentRequests));
  // Binary protocols (OCSP) read their own bodies and answer in their own format.
  for (const router of binaryRouters) app.use(router);
  app.use(express.json({ limit: deps.bodyLimit, strict: true, type: ['application/json', 'application/*+json'] }));
  app.use(rejectUnstorableText);
  // Who is calling is known before the request is judged, so that refusals can say 401 first.
  if (authenticated) {
    const limits = rateLimits(deps.rateLimits);
    app.use(limits.beforeAuthentication);
    // Starts a lone issuance's CSR check and transaction while `authentication` waits for the caller's token to be read.
    app.use(issuanceAhead((csr, bearerToken) => authenticated.issuance.startAhead(csr, bearerToken), limits.sourceMayStartCostlyWork));
    app.use(authentication(authenticated.authenticator));
    app.use(limits.afterAuthentication);
  }
  app.use(requestValidation(deps.openApi.spec));
  app.use(oneRouter(routers));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}

/**
 * The routes of all `routers`, in order, in one router. Express's router builds a request's
 * dispatch state (closures, parameter objects) anew in every router the request enters, and hands
 * a request that none of its routes matched on to the next through `setImmediate`: with a router
 * per resource, POST /v1/certificates passed through eight routers before its own. With one, the
 * router allocates 24 KB per issuance instead of 38 (sampling heap profiles; BENCHMARKS.md,
 * change 23). A layer keeps its own path matching; what moving it would drop is its router's
 * `param` callbacks and `mergeParams`, which no route file uses, and which this refuses.
 */
function oneRouter(routers: Router[]): Router {
  const combined = express.Router();
  for (const router of routers) {
    const { params, mergeParams } = router as unknown as { params?: object; mergeParams?: boolean };
    if (Object.keys(params ?? {}).length > 0 || mergeParams === true) throw new Error('oneRouter cannot move param callbacks or mergeParams');
    combined.stack.push(...router.stack);
  }
  return combined;
}

function requireCatalog(deps: HttpDependencies): IssuerCatalog {
  const catalog = deps.catalog();
  if (!catalog) throw new Error('the CA hierarchy must be loaded before routes are built');
  return catalog;
}

/** The API served over HTTPS. */
export function createApiApp(deps: HttpDependencies, useCases: ApiUseCases): Express {
  const catalog = requireCatalog(deps);
  return buildApp(
    deps,
    'api',
    [
      healthRoutes({ database: deps.database, caKeysLoaded: () => deps.catalog() !== undefined }),
      openApiRoutes(deps.openApi.text),
      caRoutes(catalog),
      serviceRoutes(useCases.services, useCases.tokens),
      apiTokenRoutes(useCases.tokens),
      revocationRoutes(useCases.revocation),
      lifecycleRoutes(useCases.lifecycle),
      auditRoutes(useCases.audit),
      certificateRoutes(useCases.issuance, useCases.inventory),
      metricsRoutes(deps.metrics),
    ],
    useCases,
  );
}

/** The plain-HTTP listener for relying parties: CA certificates (later CRLs and OCSP). */
export function createPublicApp(deps: HttpDependencies, useCases: PublicUseCases): Express {
  const catalog = requireCatalog(deps);
  return buildApp(
    deps,
    'public',
    [healthRoutes({ database: deps.database, caKeysLoaded: () => deps.catalog() !== undefined }), caFileRoutes(catalog), crlRoutes(useCases.crls)],
    undefined,
    [ocspRoutes(useCases.ocsp)],
  );
}
