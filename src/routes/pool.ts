import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { problemResponses } from '../http/openapi.js';
import { PoolPatch } from '../schemas/pool.js';
import type { Services } from '../services.js';

const tags = ['pool'];

export const poolRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get('/v1/pool', { schema: { operationId: 'getPool', tags, summary: 'Thread-pool figures', response: { 200: Type.Ref('Pool') } } }, async () => services.pool.view());

  app.patch('/v1/pool', {
    schema: { operationId: 'setPoolLimits', tags, summary: 'Change minThreads / maxThreads at run time', body: PoolPatch, response: { 200: Type.Ref('Pool'), ...problemResponses(400, 413, 415) } },
  }, async (req) => services.pool.update(req.body));
};
