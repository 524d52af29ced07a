import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { problemResponses } from '../http/openapi.js';
import { EventObjectNameParams, EventObjectOpenRequest } from '../schemas/event-object.js';
import { KIND_NAMES } from '../objects/object-kinds.js';
import type { Services } from '../services.js';
import { nameParam, registerObjectRoutes } from './object-routes.js';

const EventObjectRef = Type.Ref('EventObject');
const tags = [KIND_NAMES['event object'].tag];

/** Named Win32 event objects; `event-objects` because /v1/events is the event stream. */
export const eventObjectRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { eventObjects } = services;
  const nameOf = (raw: string) => nameParam(raw, 'event object');

  registerObjectRoutes(app, {
    ...KIND_NAMES['event object'],
    schemaId: 'EventObject', schemaIdPlural: 'EventObjects', openBody: EventObjectOpenRequest,
    descriptions: {
      open: 'Body `{manualReset, initialState}` (defaults false/false). 201 when this call created it; 200 when it already existed (`existed: true`; the body is ignored and `manualReset` shows its own type). 409 `name-conflict` when the name is another kind of object. A work sets it on return with `setEventOnReturn`; an event object is never opened by a work.',
      get: '`signaled` and `manualReset` are read from the OS now (NtQueryEvent).',
      close: '204; 409 `object-in-use` while a work that sets it on return has not ended.',
    },
    closeAnswers: 'nothing',
    registry: eventObjects,
  });

  app.post('/v1/event-objects/:name/set', {
    schema: { operationId: 'setEventObject', tags, summary: 'SetEvent now', description: 'Answers the object as it is right after (an auto-reset event that released a waiter reads not signaled).', params: EventObjectNameParams, response: { 200: EventObjectRef, ...problemResponses(400, 404) } },
  }, async (req) => eventObjects.set(nameOf(req.params.name)));

  app.post('/v1/event-objects/:name/reset', {
    schema: { operationId: 'resetEventObject', tags, summary: 'ResetEvent now', params: EventObjectNameParams, response: { 200: EventObjectRef, ...problemResponses(400, 404) } },
  }, async (req) => eventObjects.reset(nameOf(req.params.name)));
};
