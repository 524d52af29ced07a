import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { problemResponses } from '../http/openapi.js';
import { emptyBodyAsObject } from '../http/optional-body.js';
import { SemaphoreRegistry } from '../semaphore/registry.js';
import { SemaphoreListQuery, SemaphoreNameParams, SemaphoreOpenRequest } from '../schemas/semaphore.js';
import type { Services } from '../services.js';

const SemaphoreRef = Type.Ref('Semaphore');
const tags = ['semaphores'];

export const semaphoreRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { semaphores } = services;
  const nameOf = (raw: string) => SemaphoreRegistry.normalise(raw, 'params/name');

  app.put('/v1/semaphores/:name', {
    schema: {
      operationId: 'openSemaphore', tags, summary: 'Open or create a named semaphore',
      description: 'Body `{initialCount, maximumCount}` (defaults 1/1; maximumCount ≤ MAX_SEMAPHORE_COUNT, initialCount ≤ maximumCount). 201 when this call created it; 200 when it already existed, in this service or in the OS (`existed: true`): then the counts are ignored and it keeps its own. 409 `name-conflict` when the name is another kind of object. A work acquires one unit (POST /v1/work with `semaphore`); a semaphore is never opened by a work.',
      params: SemaphoreNameParams,
      body: SemaphoreOpenRequest,
      response: { 200: SemaphoreRef, 201: SemaphoreRef, ...problemResponses(400, 403, 409, 415, 429) },
    },
    preValidation: emptyBodyAsObject,
  }, async (req, reply) => {
    const { record, created } = semaphores.open(nameOf(req.params.name), req.body);
    // The contract: an answer for an object that was already there says so (`existed: true`).
    const view = semaphores.view(record);
    return reply.code(created ? 201 : 200).send(created ? view : { ...view, existed: true });
  });

  app.get('/v1/semaphores', {
    schema: { operationId: 'listSemaphores', tags, summary: 'List open semaphores', querystring: SemaphoreListQuery, response: { 200: Type.Ref('SemaphoreList'), ...problemResponses(400) } },
  }, async (req) => semaphores.list(req.query.limit ?? 100, req.query.cursor));

  app.get('/v1/semaphores/:name', {
    schema: { operationId: 'getSemaphore', tags, summary: 'Live state of an open semaphore', description: '`count` is read from the OS now (NtQuerySemaphore): units held by other processes are missing from it too.', params: SemaphoreNameParams, response: { 200: SemaphoreRef, ...problemResponses(400, 404) } },
  }, async (req) => semaphores.view(semaphores.require(nameOf(req.params.name))));

  app.delete('/v1/semaphores/:name', {
    schema: {
      operationId: 'closeSemaphore', tags, summary: 'Close the handle', description: '204; 409 `object-in-use` while a work on it is queued, waiting or holding.',
      params: SemaphoreNameParams, response: { 204: { description: 'Closed', type: 'null' }, ...problemResponses(400, 404, 409) },
    },
  }, async (req, reply) => {
    semaphores.close(nameOf(req.params.name));
    // 204 has no body (RFC 9110 15.3.5): send nothing, not a serialised null.
    return (reply as FastifyReply).code(204).send();
  });
};
