import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../services.js';

/** Prometheus text exposition of this app's own registry. */
export const metricsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { registry } = services.metrics;
  app.get('/metrics', {
    schema: {
      operationId: 'getMetrics', tags: ['health'], summary: 'Prometheus metrics',
      description: 'Text exposition format. Every name starts with tpmutex_; labels never carry mutex names or ids. Open without a token when AUTH_OPEN_PATHS lists /metrics.',
      produces: ['text/plain'],
      response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  }, async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
};
