/**
 * The schema pieces every kind of named object shares (mutex, semaphore, event object):
 * the name in the path, the list query, and the fields of a view that say which kernel
 * object it is and since when this service has it open.
 */
import { Type } from 'typebox';
import { ListQuery, Timestamp } from './common.js';

export const ObjectNameParams = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 1024, description: 'Win32 name, one percent-encoded path segment: Global%5CDeploy, Local%5Cx or x' }),
});

export const ObjectListQuery = Type.Object(ListQuery, { additionalProperties: false });

/** A work of this service holding the object: a mutex's holder, one of a semaphore's. */
export const ObjectHolder = Type.Object({
  workId: Type.String(),
  threadId: Type.Integer(),
  since: Type.String({ format: 'date-time' }),
  sinceNs: Type.String(),
});

/** `name`, `aliases`, `kernelName`: which kernel object a view is, in the kind's words. */
export const objectIdentity = (descriptions: { aliases: string; kernelName: string }) => ({
  name: Type.String({ description: 'Normalised: Global\\x or Local\\x; the spelling it was first opened under' }),
  aliases: Type.Array(Type.String(), { description: descriptions.aliases }),
  kernelName: Type.String({ description: descriptions.kernelName }),
});

/** `existed` and `openedAt`. */
export const openedFields = (existed: string) => ({
  existed: Type.Boolean({ description: existed }),
  openedAt: Timestamp,
});

/** The aliases of a semaphore or event object: as for mutexes. */
export const ALIASES_AS_FOR_MUTEXES = 'Other names of the same kernel object opened since (as for mutexes)';
