import { Type, type Static } from 'typebox';
import { listOf } from './common.js';
import { ObjectHolder, ObjectListQuery, ObjectNameParams, objectIdentity, openedFields } from './named-object.js';

export const MutexNameParams = ObjectNameParams;

export const MutexCounters = Type.Object({
  acquisitions: Type.Integer(),
  abandonedAcquisitions: Type.Integer(),
  timeouts: Type.Integer(),
});

export const Mutex = Type.Object({
  ...objectIdentity({
    aliases: 'Other names opened since that are the same kernel object (in session 0, Global\\x for Local\\x and the reverse); they address this mutex too',
    kernelName: 'The object\'s own name: win32 asks the kernel (NtQueryObject), e.g. \\Sessions\\1\\BaseNamedObjects\\x for Local\\x, \\BaseNamedObjects\\x for Global\\x (and for Local\\x in session 0); emulated gives the name Windows would give in its session (default 1). Two names with one kernelName are one mutex',
  }),
  boot: Type.String({ description: 'This server process (as in event ids): fencing tokens are comparable only within one boot' }),
  state: Type.Union([Type.Literal('free'), Type.Literal('held'), Type.Literal('abandoned')], {
    description: 'Live OS state: held also when another process owns it',
  }),
  holder: Type.Union([ObjectHolder, Type.Null()], { description: 'The work of this service that owns it, if any' }),
  waiting: Type.Integer({ description: 'Works of this service waiting to acquire it' }),
  queued: Type.Integer({ description: 'Works of this service queued for it, not started' }),
  fencingToken: Type.Integer({ description: 'Last fencing token issued (0 = never acquired). Never goes backwards within one boot, also across DELETE and PUT; a new boot starts again from 1' }),
  ...openedFields('It existed in the OS before this service opened it'),
  counters: MutexCounters,
}, { $id: 'Mutex' });
export type MutexView = Static<typeof Mutex>;

export const MutexList = listOf(Type.Ref('Mutex'), 'MutexList');
export const MutexListQuery = ObjectListQuery;
