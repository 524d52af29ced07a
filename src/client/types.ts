/**
 * The client's types, all derived from the TypeBox schemas the routes validate and
 * serialise with (src/schemas/), so the client cannot drift from the service.
 */
import type { Static, TSchema } from 'typebox';
import type { Problem as ProblemSchema, ValidationIssue as ValidationIssueSchema } from '../schemas/common.js';
import type { EventData as EventDataSchema, EventType, OverflowFrame as OverflowFrameSchema, ResetFrame as ResetFrameSchema } from '../schemas/events.js';
import type { Health as HealthSchema } from '../schemas/health.js';
import type { Info as InfoSchema } from '../schemas/info.js';
import type { EventObject as EventObjectSchema, EventObjectList as EventObjectListSchema, EventObjectListQuery as EventObjectListQuerySchema, EventObjectOpenRequest as EventObjectOpenRequestSchema } from '../schemas/event-object.js';
import type { Semaphore as SemaphoreSchema, SemaphoreList as SemaphoreListSchema, SemaphoreListQuery as SemaphoreListQuerySchema, SemaphoreOpenRequest as SemaphoreOpenRequestSchema } from '../schemas/semaphore.js';
import type { Mutex as MutexSchema, MutexList as MutexListSchema, MutexListQuery as MutexListQuerySchema } from '../schemas/mutex.js';
import type { Pool as PoolSchema, PoolPatch as PoolPatchSchema } from '../schemas/pool.js';
import type { ProblemSlug } from '../schemas/problem-types.js';
import type { Status as StatusSchema } from '../schemas/status.js';
import type { AbandonRequest as AbandonRequestSchema, Work as WorkSchema, WorkList as WorkListSchema, WorkListQuery as WorkListQuerySchema, WorkRequest as WorkRequestSchema, WorkState } from '../schemas/work.js';

export type { EventType, ProblemSlug, WorkState };

/** The shared schemas by $id, so that Static resolves their Type.Ref('…') as the service does. */
type Shared = {
  ValidationIssue: typeof ValidationIssueSchema;
  Problem: typeof ProblemSchema;
  Work: typeof WorkSchema;
  Mutex: typeof MutexSchema;
  Semaphore: typeof SemaphoreSchema;
  EventObject: typeof EventObjectSchema;
  Pool: typeof PoolSchema;
};
type Of<T extends TSchema> = Static<T, Shared>;

export type Work = Of<typeof WorkSchema>;
export type WorkRequest = Of<typeof WorkRequestSchema>;
export type WorkList = Of<typeof WorkListSchema>;
/** GET /v1/work filters; `state` is sent comma-separated. */
export type WorkListQuery = Of<typeof WorkListQuerySchema>;
export type AbandonRequest = Of<typeof AbandonRequestSchema>;
export type Semaphore = Of<typeof SemaphoreSchema>;
export type SemaphoreList = Of<typeof SemaphoreListSchema>;
export type SemaphoreListQuery = Of<typeof SemaphoreListQuerySchema>;
export type SemaphoreOpenRequest = Of<typeof SemaphoreOpenRequestSchema>;
export type EventObject = Of<typeof EventObjectSchema>;
export type EventObjectList = Of<typeof EventObjectListSchema>;
export type EventObjectListQuery = Of<typeof EventObjectListQuerySchema>;
export type EventObjectOpenRequest = Of<typeof EventObjectOpenRequestSchema>;
export type Mutex = Of<typeof MutexSchema>;
export type MutexList = Of<typeof MutexListSchema>;
export type MutexListQuery = Of<typeof MutexListQuerySchema>;
export type Pool = Of<typeof PoolSchema>;
export type PoolPatch = Of<typeof PoolPatchSchema>;
export type Status = Of<typeof StatusSchema>;
export type Info = Of<typeof InfoSchema>;
export type Health = Of<typeof HealthSchema>;
export type ValidationIssue = Of<typeof ValidationIssueSchema>;

// What an answer said besides its document (its status, a header) comes as properties
// that are not enumerable: not in JSON.stringify, a spread or deepEqual, so the
// document stays as the service sent it.

/** openMutex(), openSemaphore(), openEventObject(): `created` is true when this call created the object (201), false when it was open already (200). */
export type Opened<T> = T & { readonly created: boolean };
/** submitWork(), abandonMutex(): `replayed` is true when the service answered Idempotent-Replayed: true (the same Idempotency-Key gave back the work an earlier request created). */
export type Submitted = Work & { readonly replayed: boolean };
/** getStatus(): `etag` is the answer's ETag (send it back as ifNoneMatch). */
export type Tagged<T> = T & { readonly etag: string | undefined };

/** `urn:tpmutex:problem:<slug>`, one of the kinds listed in the Problem schema. */
export type ProblemType = `urn:tpmutex:problem:${ProblemSlug}`;
/** A problem+json body; `type` is narrowed to the service's problem kinds. */
export type Problem = Omit<Of<typeof ProblemSchema>, 'type'> & { type: ProblemType };

/** An event of the stream: its data, with the SSE id (`<boot>-<seq>`) to resume after it. */
export type TpmutexEvent = Omit<Of<typeof EventDataSchema>, 'type'> & { type: EventType; id: string };
/** `event: reset`: your position was not buffered (or is from another boot); re-read the state you care about. */
export type ResetFrame = Of<typeof ResetFrameSchema>;
/** `event: overflow`: the service dropped a slow reader; the iterator resumes after lastEventId by itself. */
export type OverflowFrame = Of<typeof OverflowFrameSchema>;
/** What events() yields: discriminate on `type`. */
export type EventFrame = TpmutexEvent | ResetFrame | OverflowFrame;
