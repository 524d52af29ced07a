import { Type, type Static } from 'typebox';
import { listOf } from './common.js';
import { ALIASES_AS_FOR_MUTEXES, ObjectListQuery, ObjectNameParams, objectIdentity, openedFields } from './named-object.js';

export const EventObjectNameParams = ObjectNameParams;

export const EventObjectOpenRequest = Type.Object({
  manualReset: Type.Optional(Type.Boolean({ default: false, description: 'true: a manual-reset (notification) event; false: auto-reset (one waiter is released, then it resets). Ignored when the event exists' })),
  initialState: Type.Optional(Type.Boolean({ default: false, description: 'Signaled at creation. Ignored when the event exists' })),
}, { $id: 'EventObjectOpenRequest', additionalProperties: false });
export type EventObjectOpenBody = Static<typeof EventObjectOpenRequest>;

export const EventObject = Type.Object({
  ...objectIdentity({ aliases: ALIASES_AS_FOR_MUTEXES, kernelName: 'The object\'s own name (as for mutexes)' }),
  signaled: Type.Boolean({ description: 'Live from the OS (NtQueryEvent)' }),
  manualReset: Type.Boolean({ description: 'The object\'s own type, live from the OS (NtQueryEvent)' }),
  ...openedFields('It existed in the OS before this service opened it (then the PUT body was ignored)'),
  counters: Type.Object({
    setsByApi: Type.Integer({ description: 'POST …/set answered by this service' }),
    setsOnReturn: Type.Integer({ description: 'Works whose callback returned, so the pool set it: their `released` lists set_event, or they timed out or were cancelled after their callback started' }),
    resetsByApi: Type.Integer({ description: 'POST …/reset answered by this service' }),
    pendingSetters: Type.Integer({ description: 'Unfinished works of this service that set it on return (it cannot be closed while there are any)' }),
  }),
}, { $id: 'EventObject' });
export type EventObjectView = Static<typeof EventObject>;

export const EventObjectList = listOf(Type.Ref('EventObject'), 'EventObjectList');
export const EventObjectListQuery = ObjectListQuery;
