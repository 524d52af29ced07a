import { Type, type Static } from 'typebox';

const Count = Type.Integer({ minimum: 0 });

/** GET /v1/status: one small document for dashboards that poll (ETag / If-None-Match). */
export const Status = Type.Object({
  status: Type.Union([Type.Literal('starting'), Type.Literal('ready'), Type.Literal('draining'), Type.Literal('stopped')], { description: 'As /readyz: ready, or why not' }),
  boot: Type.String({ description: 'This server process (the prefix of event ids)' }),
  engine: Type.Object({
    kind: Type.String(),
    nameScope: Type.String({ description: 'os: names shared with other processes; process: emulated, this process only' }),
    healthy: Type.Boolean({ description: 'The engine is running and accepts work (false while starting or shutting down, and after a fatal engine failure: see /readyz)' }),
  }),
  works: Type.Object({
    queued: Count, waiting: Count, holding: Count,
    submitted: Type.Integer({ minimum: 0, description: 'Since the process started' }),
    finished: Type.Object({ released: Count, abandoned: Count, timed_out: Count, cancelled: Count, failed: Count }, { description: 'Terminal states reached since the process started' }),
  }),
  leases: Type.Object({
    active: Type.Integer({ minimum: 0, description: 'Unfinished works (queued, waiting, holding) under a lease' }),
    expired: Type.Integer({ minimum: 0, description: 'Leases that ran out and ended their work, since the process started' }),
  }),
  mutexes: Type.Object({
    open: Count,
    held: Type.Array(Type.Object({
      name: Type.String(),
      workId: Type.String(),
      threadId: Type.Integer(),
      fencingToken: Type.Integer(),
      since: Type.String({ format: 'date-time' }),
      waiting: Count,
      queued: Count,
    }), { description: 'Mutexes held by a work of this service now, by name' }),
  }),
  semaphores: Type.Object({
    open: Count,
    held: Type.Array(Type.Object({
      name: Type.String(),
      holders: Count,
      maximumCount: Type.Integer({ minimum: 1 }),
      waiting: Count,
      queued: Count,
    }), { description: 'Semaphores with a unit held by a work of this service now, by name (the live count is on GET /v1/semaphores/{name})' }),
  }),
  eventObjects: Type.Object({
    open: Count,
    pendingSetters: Type.Integer({ minimum: 0, description: 'Unfinished works that set an event object on return' }),
  }),
  pool: Type.Ref('Pool'),
  events: Type.Object({
    lastSeq: Type.Integer({ minimum: 0, description: 'Resume point for /v1/events?after=' }),
    subscribers: Count,
  }),
}, { $id: 'Status' });
export type StatusView = Static<typeof Status>;

export const StatusHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String({ maxLength: 1024, description: 'An ETag of an earlier answer: 304 while nothing changed' })),
});
