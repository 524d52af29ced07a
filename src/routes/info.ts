import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Info } from '../schemas/info.js';
import type { Services } from '../services.js';
import { buildInfo } from '../status/info.js';

export const infoRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get('/v1/info', { schema: { operationId: 'getInfo', tags: ['info'], summary: 'Version, engine, name semantics, limits', response: { 200: Info } } }, async () => buildInfo(services));
};
