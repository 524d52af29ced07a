/**
 * Which routes are "open" (answered without a token; not rate limited). Decided from
 * the route that matched (its template), never from the raw URL, so no spelling of a
 * URL can reach a protected route through an open path.
 */
import type { FastifyRequest } from 'fastify';

export function routeOf(req: FastifyRequest): string | null {
  return req.routeOptions.url ?? null;
}

/** True when the matched route is one of `paths` (`/docs` covers the Swagger UI's own routes). */
export function isOnPaths(req: FastifyRequest, paths: ReadonlySet<string>): boolean {
  const route = routeOf(req);
  if (route === null) return false;
  if (paths.has(route)) return true;
  return paths.has('/docs') && route.startsWith('/docs/');
}

/**
 * Answered without a token even when tokens are on: the landing answer and the
 * dashboard's static files hold no data (the page fetches everything from the API
 * with the viewer's token), and a browser cannot send a bearer token when it loads a page.
 */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/', '/dashboard', '/dashboard/:file']);
