/**
 * Which methods a path answers, for the 405 that an unsupported method on a known path
 * gets (RFC 9110 15.5.6: 405 with `Allow`, not 404). Every route is recorded as it is
 * added, in a router of the same kind as Fastify's own (find-my-way), so a path is
 * matched exactly as Fastify matches it.
 */
import type { FastifyInstance } from 'fastify';
import findMyWay, { type HTTPMethod } from 'find-my-way';

export class AllowedMethods {
  private readonly router = findMyWay({ maxParamLength: 2048 });
  private readonly methods = new Set<HTTPMethod>();

  /** Records every route added to `app` from now on. */
  install(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      for (const method of ([] as string[]).concat(route.method).map((m) => m.toUpperCase() as HTTPMethod)) {
        this.methods.add(method);
        this.router.on(method, route.url, () => undefined);
      }
    });
  }

  /** The methods some route answers on this path (no query string), in a stable order. */
  of(path: string): string[] {
    return [...this.methods].filter((method) => this.router.find(method, path) !== null).sort();
  }
}
