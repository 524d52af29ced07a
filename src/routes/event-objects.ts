import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { EventObjectRegistry } from '../event-object/registry.js';
import { problemResponses } from '../http/openapi.js';
import { emptyBodyAsObject } from '../http/optional-body.js';
import { EventObjectListQuery, EventObjectNameParams, EventObjectOpenRequest } from '../schemas/event-object.js';
import type { Services } from '../services.js';

const EventObjectRef = Type.Ref('EventObject');
const tags = ['event-objects'];

/** Named Win32 event objects; `event-objects` because /v1/events is the event stream. */
export const eventObjectRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { eventObjects } = services;
  const nameOf = (raw: string) => EventObjectRegistry.normalise(raw, 'params/name');

  app.put('/v1/event-objects/:name', {
    schema: {
      operationId: 'openEventObject', tags, summary: 'Open or create a named event object',
      description: 'Body `{manualReset, initialState}` (defaults false/false). 201 when this call created it; 200 when it already existed (`existed: true`; the body is ignored and `manualReset` shows its own type). 409 `name-conflict` when the name is another kind of object. A work sets it on return with `setEventOnReturn`; an event object is never opened by a work.',
      params: EventObjectNameParams,
      body: EventObjectOpenRequest,
      response: { 200: EventObjectRef, 201: EventObjectRef, ...problemResponses(400, 403, 409, 415, 429) },
    },
    preValidation: emptyBodyAsObject,
  }, async (req, reply) => {
    const { record, created } = eventObjects.open(nameOf(req.params.name), req.body);
    // The contract: an answer for an object that was already there says so (`existed: true`).
    const view = eventObjects.view(record);
    return reply.code(created ? 201 : 200).send(created ? view : { ...view, existed: true });
  });

  app.get('/v1/event-objects', {
    schema: { operationId: 'listEventObjects', tags, summary: 'List open event objects', querystring: EventObjectListQuery, response: { 200: Type.Ref('EventObjectList'), ...problemResponses(400) } },
  }, async (req) => eventObjects.list(req.query.limit ?? 100, req.query.cursor));

  app.get('/v1/event-objects/:name', {
    schema: { operationId: 'getEventObject', tags, summary: 'Live state of an open event object', description: '`signaled` and `manualReset` are read from the OS now (NtQueryEvent).', params: EventObjectNameParams, response: { 200: EventObjectRef, ...problemResponses(400, 404) } },
  }, async (req) => eventObjects.view(eventObjects.require(nameOf(req.params.name))));

  app.delete('/v1/event-objects/:name', {
    schema: {
      operationId: 'closeEventObject', tags, summary: 'Close the handle', description: '204; 409 `object-in-use` while a work that sets it on return has not ended.',
      params: EventObjectNameParams, response: { 204: { description: 'Closed', type: 'null' }, ...problemResponses(400, 404, 409) },
    },
  }, async (req, reply) => {
    eventObjects.close(nameOf(req.params.name));
    // 204 has no body (RFC 9110 15.3.5): send nothing, not a serialised null.
    return (reply as FastifyReply).code(204).send();
  });

  app.post('/v1/event-objects/:name/set', {
    schema: { operationId: 'setEventObject', tags, summary: 'SetEvent now', description: 'Answers the object as it is right after (an auto-reset event that released a waiter reads not signaled).', params: EventObjectNameParams, response: { 200: EventObjectRef, ...problemResponses(400, 404) } },
  }, async (req) => eventObjects.set(nameOf(req.params.name)));

  app.post('/v1/event-objects/:name/reset', {
    schema: { operationId: 'resetEventObject', tags, summary: 'ResetEvent now', params: EventObjectNameParams, response: { 200: EventObjectRef, ...problemResponses(400, 404) } },
  }, async (req) => eventObjects.reset(nameOf(req.params.name)));
};
