import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SemaphoreOpenRequest } from '../schemas/semaphore.js';
import { KIND_NAMES } from '../objects/object-kinds.js';
import type { Services } from '../services.js';
import { registerObjectRoutes } from './object-routes.js';

export const semaphoreRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  registerObjectRoutes(app, {
    ...KIND_NAMES.semaphore,
    schemaId: 'Semaphore', schemaIdPlural: 'Semaphores', openBody: SemaphoreOpenRequest,
    descriptions: {
      open: 'Body `{initialCount, maximumCount}` (defaults 1/1; maximumCount ≤ MAX_SEMAPHORE_COUNT, initialCount ≤ maximumCount). 201 when this call created it; 200 when it already existed, in this service or in the OS (`existed: true`): then the counts are ignored and it keeps its own. 409 `name-conflict` when the name is another kind of object. A work acquires one unit (POST /v1/work with `semaphore`); a semaphore is never opened by a work.',
      get: '`count` is read from the OS now (NtQuerySemaphore): units held by other processes are missing from it too.',
      close: '204; 409 `object-in-use` while a work on it is queued, waiting or holding.',
    },
    closeAnswers: 'nothing',
    registry: services.semaphores,
  });
};
