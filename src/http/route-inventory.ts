import type { Express } from 'express';

export interface RouteEntry {
  method: string;
  /** OpenAPI-style path, e.g. `/ca/{name}.pem`. */
  path: string;
}

interface LayerLike {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: LayerLike[] };
}

/** Express's `:name` parameters written as OpenAPI `{name}`. */
function toOpenApiPath(path: string): string {
  return path.replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

/**
 * Every method + path an express app routes, read from the app's own router (so a route added
 * without documenting it shows up here).
 */
export function listRoutes(app: Express): RouteEntry[] {
  const routes: RouteEntry[] = [];
  const visit = (stack: LayerLike[]): void => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods)) {
          for (const path of paths) routes.push({ method: method.toLowerCase(), path: toOpenApiPath(path) });
        }
      } else if (layer.handle?.stack) {
        visit(layer.handle.stack);
      }
    }
  };
  visit((app as unknown as { router: { stack: LayerLike[] } }).router.stack);
  return routes;
}
