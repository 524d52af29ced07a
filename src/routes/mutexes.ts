import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MutexRegistry } from '../mutex/registry.js';
import { problemResponses } from '../http/openapi.js';
import { MutexListQuery, MutexNameParams } from '../schemas/mutex.js';
import type { Services } from '../services.js';

const MutexRef = Type.Ref('Mutex');
const tags = ['mutexes'];

export const mutexRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { mutexes } = services;
  const nameOf = (raw: string) => MutexRegistry.normalise(raw, 'params/name');

  app.put('/v1/mutexes/:name', {
    schema: {
      operationId: 'openMutex', tags, summary: 'Open or create a named mutex',
      description: '201 when this call created it; 200 when it already existed, in this service or in the OS (`existed: true`), also under another name of the same kernel object (then the name is one of its `aliases`). 403 when the name is not allowed here, when the mutex refuses this process the access it needs (`access-denied`), or when creating a Global\\ object needs SeCreateGlobalPrivilege (`privilege-required`).',
      params: MutexNameParams,
      response: { 200: MutexRef, 201: MutexRef, ...problemResponses(400, 403, 409, 429) },
    },
  }, async (req, reply) => {
    const { record, created } = mutexes.open(nameOf(req.params.name));
    return reply.code(created ? 201 : 200).send(mutexes.view(record));
  });

  app.get('/v1/mutexes', {
    schema: { operationId: 'listMutexes', tags, summary: 'List open mutexes', querystring: MutexListQuery, response: { 200: Type.Ref('MutexList'), ...problemResponses(400) } },
  }, async (req) => mutexes.list(req.query.limit ?? 100, req.query.cursor));

  app.get('/v1/mutexes/:name', {
    schema: { operationId: 'getMutex', tags, summary: 'Live state of an open mutex', params: MutexNameParams, response: { 200: MutexRef, ...problemResponses(400, 404) } },
  }, async (req) => mutexes.view(mutexes.require(nameOf(req.params.name))));

  app.delete('/v1/mutexes/:name', {
    schema: {
      operationId: 'closeMutex', tags, summary: 'Close the handle', description: '409 while work on it is queued, waiting or holding.',
      params: MutexNameParams, response: { 200: MutexRef, ...problemResponses(400, 404, 409) },
    },
  }, async (req) => mutexes.close(nameOf(req.params.name)));
};
