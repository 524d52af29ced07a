import { Type, type Static } from 'typebox';
import { ListQuery, listOf, Nanos, Timestamp } from './common.js';

export const WORK_STATES = ['queued', 'waiting', 'holding', 'released', 'abandoned', 'timed_out', 'cancelled', 'failed'] as const;
export type WorkState = typeof WORK_STATES[number];
/** The states a work ends in: exactly one of them, once, with its terminal event. */
export const TERMINAL_STATES = ['released', 'abandoned', 'timed_out', 'cancelled', 'failed'] as const satisfies readonly WorkState[];
export type TerminalState = typeof TERMINAL_STATES[number];
/** Where a work can be before it ends. */
export type UnfinishedState = Exclude<WorkState, TerminalState>;
export const isTerminal = (state: WorkState): state is TerminalState => (TERMINAL_STATES as readonly WorkState[]).includes(state);

export const WorkStateSchema = Type.Union([
  Type.Literal('queued'), Type.Literal('waiting'), Type.Literal('holding'), Type.Literal('released'),
  Type.Literal('abandoned'), Type.Literal('timed_out'), Type.Literal('cancelled'), Type.Literal('failed'),
]);

/** A lease (≤ MAX_LEASE_MS, checked by the work service): see POST /v1/work/{id}/keepalive. */
const LeaseMs = Type.Integer({
  minimum: 100,
  description: 'Lease: unless renewed (POST /v1/work/{id}/keepalive) within leaseMs, the work ends: queued or waiting → cancelled, holding → the hold ends and the pool releases the mutex. Reported as leaseExpired (never as a signal or a cancel). ≤ MAX_LEASE_MS; none = no lease',
});

/**
 * The submit body. Bounds on the numbers come from configuration and are checked by
 * the work service (so the limits stay configurable); the schema fixes types and
 * rejects unknown fields.
 */
export const WorkRequest = Type.Object({
  mutex: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'The mutex the callback acquires. Win32 name: "Global\\\\Deploy", "Local\\\\x" or bare "x" (= Local\\x). Opened on first use. Not with semaphore' })),
  semaphore: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'The semaphore the callback takes one unit of; the pool gives it back on return (ReleaseSemaphoreWhenCallbackReturns). Must be open (PUT /v1/semaphores/{name}). Not with mutex' })),
  setEventOnReturn: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'An open event object (PUT /v1/event-objects/{name}) the pool sets when the callback returns (SetEventWhenCallbackReturns), on every return path once started. A work needs at least one of mutex, semaphore, setEventOnReturn' })),
  acquireTimeoutMs: Type.Optional(Type.Integer({ minimum: 0, default: 30000, description: '0 = try once' })),
  holdMs: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'How long to hold after acquiring; with untilSignaled the upper bound (0 = MAX_HOLD_MS)' })),
  untilSignaled: Type.Optional(Type.Boolean({ default: false, description: 'Hold until POST /v1/work/{id}/signal (or cancel)' })),
  spinMs: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'CPU-bound work while holding, before the hold' })),
  mayRunLong: Type.Optional(Type.Boolean({ default: false, description: 'Call CallbackMayRunLong; the result is reported' })),
  label: Type.Optional(Type.String({ description: 'Free text for filtering (≤ MAX_LABEL_LENGTH)' })),
  leaseMs: Type.Optional(LeaseMs),
}, { $id: 'WorkRequest', additionalProperties: false });
export type WorkRequestBody = Static<typeof WorkRequest>;

export const WorkRequestEcho = Type.Object({
  acquireTimeoutMs: Type.Integer(),
  holdMs: Type.Integer(),
  untilSignaled: Type.Boolean(),
  spinMs: Type.Integer(),
  mayRunLong: Type.Boolean(),
  leaseMs: Type.Union([Type.Integer(), Type.Null()], { description: 'The lease the work was submitted with (null: none); a keepalive may change it' }),
});

export const Resource = Type.Object({
  kind: Type.Union([Type.Literal('mutex'), Type.Literal('semaphore')]),
  name: Type.String({ description: 'Normalised name' }),
});

export const ReturnActionSchema = Type.Union([Type.Literal('release_mutex'), Type.Literal('set_event'), Type.Literal('release_semaphore')]);

export const Work = Type.Object({
  id: Type.String(),
  operation: Type.Union([Type.Literal('work'), Type.Literal('abandon')], { description: 'work: POST /v1/work; abandon: POST /v1/mutexes/{name}/abandon (its thread exits owning the mutex)' }),
  mutex: Type.Union([Type.String(), Type.Null()], { description: 'The mutex it acquires, normalised (null when it acquires a semaphore or nothing)' }),
  resource: Type.Union([Resource, Type.Null()], { description: 'What the callback acquires: a mutex or one unit of a semaphore; null for a work that only sets an event on return' }),
  setEventOnReturn: Type.Union([Type.String(), Type.Null()], { description: 'The event object the pool sets when the callback returns' }),
  actions: Type.Union([Type.Array(ReturnActionSchema), Type.Null()], {
    description: 'Set with `released`: the return actions the pool performed, in its order. Windows: release_mutex → set_event → release_semaphore (when an app wakes on the event, the mutex is already free); under Wine release_semaphore comes before set_event',
  }),
  label: Type.Union([Type.String(), Type.Null()]),
  state: WorkStateSchema,
  request: WorkRequestEcho,
  fencingToken: Type.Union([Type.Integer(), Type.Null()], { description: 'Per-mutex acquisition counter, set at acquire; strictly increasing within one boot (also across DELETE and PUT of the mutex), from 1 again in a new boot. Null for a semaphore work (several hold a semaphore at once: no fence)' }),
  acquisitionSeq: Type.Union([Type.Integer(), Type.Null()], { description: 'Semaphore works: the per-semaphore acquisition sequence number (1, 2, 3… in this boot), not a fence. Null otherwise' }),
  boot: Type.String({ description: 'This server process (as in event ids and work ids): order fencing tokens by (boot, fencingToken) only within one boot' }),
  abandoned: Type.Union([Type.Boolean(), Type.Null()], { description: 'Acquired with WAIT_ABANDONED' }),
  threadId: Type.Union([Type.Integer(), Type.Null()], { description: 'Pool thread that ran the callback' }),
  mayRunLong: Type.Union([Type.Boolean(), Type.Null()], { description: 'CallbackMayRunLong result (null when not asked)' }),
  signaled: Type.Boolean({ description: 'The hold was ended early by signal or cancel (false when its lease expired: see leaseExpired)' }),
  cancelRequested: Type.Boolean(),
  queuedAt: Timestamp, queuedAtNs: Nanos,
  startedAt: Timestamp, startedAtNs: Nanos,
  acquiredAt: Timestamp, acquiredAtNs: Nanos,
  returnedAt: Timestamp, returnedAtNs: Nanos,
  releasedAt: Timestamp, releasedAtNs: Nanos,
  endedAt: Timestamp, endedAtNs: Nanos,
  leaseMs: Type.Union([Type.Integer(), Type.Null()], { description: 'The lease now: how long each keepalive extends it (null: no lease)' }),
  leaseExpiresAt: Timestamp,
  leaseExpiresAtNs: Type.Union([Type.String({ pattern: '^[0-9]+$', description: 'When the lease runs out unless renewed (engine clock, ns); after the work ended, when it last would have' }), Type.Null()]),
  leaseExpired: Type.Boolean({ description: 'The lease ran out (no keepalive in time) and ended the work: its hold ended or its wait was cancelled by the service, not by a client (event work.lease_expired)' }),
  error: Type.Union([Type.Ref('Problem'), Type.Null()]),
  invariantViolation: Type.Union([
    Type.Object({
      kind: Type.Union([Type.Literal('acquired_while_held'), Type.Literal('released_after_acquired'), Type.Literal('semaphore_over_maximum')]),
      previousWorkId: Type.String(),
      detail: Type.String(),
    }),
    Type.Null(),
  ], { description: 'Set when the engine reported this acquisition overlapping the previous holder (a broken mutual exclusion), or more holders of a semaphore than its maximumCount (never expected); also logged and counted in tpmutex_invariant_violations_total' }),
}, { $id: 'Work' });
export type WorkView = Static<typeof Work>;

export const WorkList = listOf(Type.Ref('Work'), 'WorkList');

export const WorkIdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
});

export const WorkListQuery = Type.Object({
  ...ListQuery,
  // Comma-separated on the wire (form style, not exploded); the route splits it before validation.
  state: Type.Optional(Type.Array(Type.String({ enum: [...WORK_STATES] }), { minItems: 1, style: 'form', explode: false, description: 'One state or several, comma-separated: ?state=queued,waiting' })),
  mutex: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Only works that acquire this mutex' })),
  semaphore: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Only works that acquire this semaphore' })),
  label: Type.Optional(Type.String({ maxLength: 4096 })),
}, { additionalProperties: false });

export const WorkGetQuery = Type.Object({
  wait: Type.Optional(Type.Literal('terminal', { description: 'Long-poll until the work is terminal' })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 0, description: 'Long-poll bound (≤ MAX_WAIT_MS); default 30000' })),
}, { additionalProperties: false });

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$', description: 'Same key + same body → the same work; same key + other body → 422' })),
});

/** POST /v1/mutexes/{name}/abandon. */
export const AbandonRequest = Type.Object({
  acquireTimeoutMs: Type.Optional(Type.Integer({ minimum: 0, default: 30000, description: 'How long its thread waits for the mutex (0 = try once)' })),
  label: Type.Optional(Type.String({ description: 'Free text for filtering (≤ MAX_LABEL_LENGTH)' })),
}, { $id: 'AbandonRequest', additionalProperties: false });
export type AbandonRequestBody = Static<typeof AbandonRequest>;

/** POST /v1/work/{id}/keepalive: renews the lease; leaseMs adds one to a work without, or changes it. */
export const KeepaliveBody = Type.Object({ leaseMs: Type.Optional(LeaseMs) }, { additionalProperties: false, description: 'Optional: without a body the lease is renewed for its own leaseMs' });
export type KeepaliveBodyValue = Static<typeof KeepaliveBody>;

export const KeepaliveQuery = Type.Object({
  stream: Type.Optional(Type.Boolean({ description: 'Keep the lease alive for as long as this request stays open: the answer is an NDJSON stream (application/x-ndjson) with a heartbeat line per renewal and a last line when the work ends' })),
}, { additionalProperties: false });

/** One line of a streaming keepalive (application/x-ndjson). */
export const KeepaliveLine = Type.Union([
  Type.Object({
    type: Type.Literal('heartbeat'),
    workId: Type.String(),
    state: WorkStateSchema,
    leaseMs: Type.Integer(),
    leaseExpiresAt: Type.String({ format: 'date-time' }),
    leaseExpiresAtNs: Type.String({ pattern: '^[0-9]+$' }),
  }, { description: 'The service renewed the lease (one line per renewal, every leaseMs/3, at least every 15 s)' }),
  Type.Object({
    type: Type.Literal('ended'),
    work: Type.Ref('Work'),
  }, { description: 'The last line: the work ended (or its lease expired); the stream closes' }),
], { $id: 'KeepaliveLine' });
