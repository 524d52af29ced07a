/**
 * HTTP metrics from Fastify's onResponse hook: one count and one duration per answer,
 * labelled by the matched route's template (never the raw URL), method and status.
 * Problems that name a limit are also counted by that limit.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

export function installHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (req, reply, done) => {
    metrics.onHttpResponse(req.method, req.routeOptions.url ?? null, reply.statusCode, reply.elapsedTime);
    done();
  });
}
