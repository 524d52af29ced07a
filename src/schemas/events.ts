import { Type } from 'typebox';

export const WORK_EVENT_TYPES = ['work.queued', 'work.started', 'work.acquired', 'work.returned', 'work.released', 'work.timed_out', 'work.cancelled', 'work.failed', 'work.abandoned', 'work.lease_expired'] as const;
export const MUTEX_EVENT_TYPES = ['mutex.opened', 'mutex.closed'] as const;
export const SEMAPHORE_EVENT_TYPES = ['semaphore.opened', 'semaphore.closed'] as const;
export const EVENT_OBJECT_EVENT_TYPES = ['event-object.opened', 'event-object.closed', 'event-object.set', 'event-object.reset'] as const;
export const EVENT_TYPES = [...WORK_EVENT_TYPES, ...MUTEX_EVENT_TYPES, ...SEMAPHORE_EVENT_TYPES, ...EVENT_OBJECT_EVENT_TYPES] as const;
export type SemaphoreEventType = typeof SEMAPHORE_EVENT_TYPES[number];
export type EventObjectEventType = typeof EVENT_OBJECT_EVENT_TYPES[number];
export type EventType = typeof EVENT_TYPES[number];
export type WorkEventType = typeof WORK_EVENT_TYPES[number];

export const EventsQuery = Type.Object({
  mutex: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Only events of this object (a mutex, a semaphore or an event object): its lifecycle events and the works that acquire it (a work that acquires nothing: the event object it sets)' })),
  work: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only events of this work' })),
  types: Type.Optional(Type.String({ pattern: `^(${EVENT_TYPES.join('|').replaceAll('.', '\\.')})(,(${EVENT_TYPES.join('|').replaceAll('.', '\\.')}))*$`, description: 'Comma-separated event types' })),
  after: Type.Optional(Type.Integer({ minimum: 0, description: 'Replay events with seq > after (this server process); Last-Event-ID wins when both are given' })),
}, { additionalProperties: false });

export const EventsHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 128 })),
});

/** The JSON in each SSE `data:` line of an event (`event:` is its type, `id:` is `<boot>-<seq>`). */
export const EventData = Type.Object({
  seq: Type.Integer(),
  type: Type.String({ enum: [...EVENT_TYPES] }),
  at: Type.String({ format: 'date-time' }),
  work: Type.Optional(Type.Ref('Work')),
  mutex: Type.Optional(Type.Ref('Mutex')),
  semaphore: Type.Optional(Type.Ref('Semaphore')),
  eventObject: Type.Optional(Type.Ref('EventObject')),
  source: Type.Optional(Type.Literal('api', { description: 'event-object.set / .reset: who did it (sets on return show as work.released with set_event in actions)' })),
}, { $id: 'EventData' });

/** `event: reset`: the position asked for is not buffered (or is from another process); what follows starts at oldestSeq. */
export const ResetFrame = Type.Object({
  type: Type.Literal('reset'),
  reason: Type.String(),
  boot: Type.String({ description: 'This server process' }),
  oldestSeq: Type.Integer({ description: 'The first event replayed after this frame' }),
  lastSeq: Type.Integer(),
}, { $id: 'ResetFrame' });

/** `event: overflow`: the client fell too far behind and is disconnected; it resumes with lastEventId. */
export const OverflowFrame = Type.Object({
  type: Type.Literal('overflow'),
  reason: Type.String(),
  lastEventId: Type.String({ description: 'Send it as Last-Event-ID to resume exactly after the last frame delivered' }),
}, { $id: 'OverflowFrame' });

/** Every frame's `data:` on GET /v1/events. */
export const EventFrame = Type.Union([Type.Ref('EventData'), Type.Ref('ResetFrame'), Type.Ref('OverflowFrame')], { $id: 'EventFrame' });
