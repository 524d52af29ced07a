import { Type, type Static } from 'typebox';

export const Pool = Type.Object({
  engine: Type.String(),
  minThreads: Type.Integer(),
  maxThreads: Type.Integer(),
  threads: Type.Integer(),
  active: Type.Integer(),
  queued: Type.Integer(),
  submitted: Type.Integer(),
  completed: Type.Integer(),
}, { $id: 'Pool' });
export type PoolView = Static<typeof Pool>;

export const PoolPatch = Type.Object({
  minThreads: Type.Optional(Type.Integer({ minimum: 1 })),
  maxThreads: Type.Optional(Type.Integer({ minimum: 1 })),
}, { additionalProperties: false, minProperties: 1 });
