import { Type, type Static } from 'typebox';
import { ListQuery, listOf, Timestamp } from './common.js';

export const MutexNameParams = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 1024, description: 'Win32 name, one percent-encoded path segment: Global%5CDeploy, Local%5Cx or x' }),
});

export const MutexHolder = Type.Object({
  workId: Type.String(),
  threadId: Type.Integer(),
  since: Type.String({ format: 'date-time' }),
  sinceNs: Type.String(),
});

export const MutexCounters = Type.Object({
  acquisitions: Type.Integer(),
  abandonedAcquisitions: Type.Integer(),
  timeouts: Type.Integer(),
});

export const Mutex = Type.Object({
  name: Type.String({ description: 'Normalised: Global\\x or Local\\x; the spelling it was first opened under' }),
  aliases: Type.Array(Type.String(), {
    description: 'Other names opened since that are the same kernel object (in session 0, Global\\x for Local\\x and the reverse); they address this mutex too',
  }),
  kernelName: Type.String({
    description: 'The object\'s own name: win32 asks the kernel (NtQueryObject), e.g. \\Sessions\\1\\BaseNamedObjects\\x for Local\\x, \\BaseNamedObjects\\x for Global\\x (and for Local\\x in session 0); emulated gives the name Windows would give in its session (default 1). Two names with one kernelName are one mutex',
  }),
  boot: Type.String({ description: 'This server process (as in event ids): fencing tokens are comparable only within one boot' }),
  state: Type.Union([Type.Literal('free'), Type.Literal('held'), Type.Literal('abandoned')], {
    description: 'Live OS state: held also when another process owns it',
  }),
  holder: Type.Union([MutexHolder, Type.Null()], { description: 'The work of this service that owns it, if any' }),
  waiting: Type.Integer({ description: 'Works of this service waiting to acquire it' }),
  queued: Type.Integer({ description: 'Works of this service queued for it, not started' }),
  fencingToken: Type.Integer({ description: 'Last fencing token issued (0 = never acquired). Never goes backwards within one boot, also across DELETE and PUT; a new boot starts again from 1' }),
  existed: Type.Boolean({ description: 'It existed in the OS before this service opened it' }),
  openedAt: Timestamp,
  counters: MutexCounters,
}, { $id: 'Mutex' });
export type MutexView = Static<typeof Mutex>;

export const MutexList = listOf(Type.Ref('Mutex'), 'MutexList');
export const MutexListQuery = Type.Object(ListQuery, { additionalProperties: false });
