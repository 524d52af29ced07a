import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SseHub, type EventFilter, type StreamStart } from '../events/sse.js';
import { limitExceeded, validationProblem } from '../http/problem.js';
import { MutexRegistry } from '../mutex/registry.js';
import { problemResponses } from '../http/openapi.js';
import { EventsHeaders, EventsQuery, type EventType } from '../schemas/events.js';
import type { Services } from '../services.js';

export const eventRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { events, sse, config } = services;

  app.get('/v1/events', {
    schema: {
      operationId: 'streamEvents', tags: ['events'], summary: 'Server-Sent Events stream',
      description: 'Frames: `id: <boot>-<seq>`, `event: <type>`, `data: <json>`. Resume with Last-Event-ID (or ?after=seq). A position no longer buffered, or from another server process, gets `event: reset` first; a client too slow to keep up gets `event: overflow` and is disconnected. Heartbeat comment every SSE_HEARTBEAT_MS.',
      querystring: EventsQuery, headers: EventsHeaders,
      produces: ['text/event-stream'],
      response: {
        200: {
          description: 'The stream. Each frame is `id:` (events only), `event:` (an event type, `reset` or `overflow`) and one `data:` line holding an EventFrame as JSON; `: heartbeat` comments keep the connection alive.',
          content: { 'text/event-stream': { schema: { type: 'string', description: 'Frames whose data is an EventFrame' }, 'x-frame-schema': { $ref: 'EventFrame' } } },
        },
        ...problemResponses(400, 429, 503),
      },
    },
  }, async (req, reply) => {
    const { mutex, work, types, after } = req.query;
    const filter: EventFilter = {
      ...(mutex === undefined ? {} : { mutex: canonicalObjectName(services, MutexRegistry.normalise(mutex, 'query/mutex')) }),
      ...(work === undefined ? {} : { workId: work }),
      ...(types === undefined ? {} : { types: new Set(types.split(',') as EventType[]) }),
    };
    let start: StreamStart = after === undefined ? { kind: 'live' } : { kind: 'after', seq: after };
    const lastEventId = req.headers['last-event-id'];
    if (lastEventId !== undefined) {
      const parsed = SseHub.parseEventId(events, lastEventId);
      if (!parsed) throw validationProblem([{ field: 'header/last-event-id', message: 'must be an event id of this service: <boot>-<seq>' }]);
      start = parsed;
    }
    if (sse.size >= config.limits.sseMaxSubscribers) {
      throw limitExceeded('SSE_MAX_SUBSCRIBERS', `${sse.size} event streams are open (limit ${config.limits.sseMaxSubscribers}); close one or raise SSE_MAX_SUBSCRIBERS`, 5);
    }
    reply.hijack();
    sse.open(reply.raw, filter, start);
  });
};

/** The record's name of any open object (a mutex, semaphore or event object) named or aliased so; else the name as given. */
function canonicalObjectName(services: Services, name: string): string {
  return services.mutexes.get(name)?.name ?? services.semaphores.get(name)?.name ?? services.eventObjects.get(name)?.name ?? name;
}
