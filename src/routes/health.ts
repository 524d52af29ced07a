import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { RETRY_AFTER } from '../http/openapi.js';
import type { Services } from '../services.js';

const Health = Type.Object({ status: Type.String() });

/** Liveness is the process answering; readiness is the engine running and not draining. */
export const healthRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get('/livez', { schema: { operationId: 'getLiveness', tags: ['health'], summary: 'Liveness', response: { 200: Health } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    schema: {
      operationId: 'getReadiness', tags: ['health'], summary: 'Readiness: 503 while starting or draining',
      response: {
        200: Health,
        503: {
          description: 'Not ready: starting, draining or stopped (a Health document), or shedding load (a problem)',
          headers: RETRY_AFTER,
          content: { 'application/json': { schema: Health }, 'application/problem+json': { schema: Type.Ref('Problem') } },
        },
      },
    },
  }, async (_req, reply) => {
    const state = services.lifecycle.state;
    if (state !== 'ready') return reply.code(503).header('retry-after', '1').send({ status: state });
    return { status: 'ready' };
  });
};
