import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { RETRY_AFTER } from '../http/openapi.js';
import { Health } from '../schemas/health.js';
import type { Services } from '../services.js';

/** Liveness is the process answering; readiness is the engine running, sound and not draining. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get('/livez', { schema: { operationId: 'getLiveness', tags: ['health'], summary: 'Liveness', response: { 200: Health } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      operationId: 'getReadiness', tags: ['health'], summary: 'Readiness: 503 while starting or draining, or after a fatal engine failure',
      response: {
        200: Health,
        503: {
          description: 'Not ready: starting, draining, stopped or engine_failed (a Health document; Retry-After unless only a restart helps), or shedding load (a problem)',
          headers: RETRY_AFTER,
          content: { 'application/json': { schema: Health }, 'application/problem+json': { schema: Type.Ref('Problem') } },
        },
      },
    },
  }, async (_req, reply) => {
    const state = services.lifecycle.state;
    if (state !== 'ready') return reply.code(503).header('retry-after', '1').send({ status: state });
    // A fatal engine failure does not pass with time: no retry-after.
    const fault = services.engine.fault();
    if (fault !== undefined) return reply.code(503).send({ status: 'engine_failed', reason: fault.message });
    return { status: 'ready' };
  });
};
