import { Type, type Static } from 'typebox';
import { listOf } from './common.js';
import { ALIASES_AS_FOR_MUTEXES, ObjectHolder, ObjectListQuery, ObjectNameParams, objectIdentity, openedFields } from './named-object.js';

export const SemaphoreNameParams = ObjectNameParams;

/**
 * PUT body. The upper bound of maximumCount is configuration (MAX_SEMAPHORE_COUNT) and
 * initialCount ≤ maximumCount a cross-field rule, so the service checks both.
 */
export const SemaphoreOpenRequest = Type.Object({
  initialCount: Type.Optional(Type.Integer({ minimum: 0, default: 1, description: 'Units available at creation, 0..maximumCount. Ignored when the semaphore exists' })),
  maximumCount: Type.Optional(Type.Integer({ minimum: 1, default: 1, description: 'At most MAX_SEMAPHORE_COUNT. Ignored when the semaphore exists (it keeps its own)' })),
}, { $id: 'SemaphoreOpenRequest', additionalProperties: false });
export type SemaphoreOpenBody = Static<typeof SemaphoreOpenRequest>;

export const Semaphore = Type.Object({
  ...objectIdentity({ aliases: ALIASES_AS_FOR_MUTEXES, kernelName: 'The object\'s own name (as for mutexes): two names with one kernelName are one semaphore' }),
  count: Type.Integer({ description: 'Units available now, live from the OS (NtQuerySemaphore): units held by other processes are missing from it too' }),
  maximumCount: Type.Integer({ description: 'The object\'s own maximum' }),
  ...openedFields('It existed in the OS before this service opened it (then the PUT counts were ignored)'),
  holders: Type.Array(ObjectHolder, { description: 'Works of this service holding a unit now, oldest first' }),
  waiting: Type.Integer({ description: 'Works of this service waiting for a unit' }),
  queued: Type.Integer({ description: 'Works of this service queued for it, not started' }),
  counters: Type.Object({
    acquisitions: Type.Integer(),
    timeouts: Type.Integer(),
  }),
}, { $id: 'Semaphore' });
export type SemaphoreView = Static<typeof Semaphore>;

export const SemaphoreList = listOf(Type.Ref('Semaphore'), 'SemaphoreList');
export const SemaphoreListQuery = ObjectListQuery;
