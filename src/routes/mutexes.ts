import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/openapi.js';
import { emptyBodyAsObject } from '../http/optional-body.js';
import { MutexNameParams } from '../schemas/mutex.js';
import { AbandonRequest, IdempotencyHeaders } from '../schemas/work.js';
import { KIND_NAMES } from '../objects/object-kinds.js';
import type { Services } from '../services.js';
import { acceptedWork, sendAccepted } from './accepted-work.js';
import { nameParam, registerObjectRoutes } from './object-routes.js';

const tags = [KIND_NAMES.mutex.tag];

export const mutexRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const nameOf = (raw: string) => nameParam(raw, 'mutex');

  registerObjectRoutes(app, {
    ...KIND_NAMES.mutex,
    schemaId: 'Mutex', schemaIdPlural: 'Mutexes',
    descriptions: {
      open: '201 when this call created it; 200 when it already existed, in this service or in the OS (`existed: true`), also under another name of the same kernel object (then the name is one of its `aliases`). 403 when the name is not allowed here, when the mutex refuses this process the access it needs (`access-denied`), or when creating a Global\\ object needs SeCreateGlobalPrivilege (`privilege-required`).',
      close: '409 while work on it is queued, waiting or holding.',
    },
    closeAnswers: 'object',
    registry: services.mutexes,
  });

  app.post('/v1/mutexes/:name/abandon', {
    schema: {
      operationId: 'abandonMutex', tags, summary: 'Abandon the mutex on cue',
      description: '202 with a work (Location: /v1/work/{id}), `operation: abandon`. A dedicated thread (not a pool thread: the pool releases what a callback registered) acquires the mutex within `acquireTimeoutMs` and exits without releasing it: the work ends `abandoned`, and the next acquirer, here or in any process, gets WAIT_ABANDONED (`abandoned: true` on the next work). Opens the mutex on first use, like POST /v1/work. Signal is ignored; cancel aborts the wait. Idempotency-Key as for POST /v1/work.',
      params: MutexNameParams, headers: IdempotencyHeaders,
      body: AbandonRequest,
      response: {
        202: acceptedWork('Accepted: the abandon work is queued'),
        ...problemResponses(400, 403, 409, 415, 422, 429, 503),
      },
    },
    preValidation: emptyBodyAsObject,
  }, async (req, reply) => sendAccepted(reply, services.work.abandon(nameOf(req.params.name), req.body, req.headers['idempotency-key'])));
};
