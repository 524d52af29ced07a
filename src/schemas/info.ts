import { Type, type Static } from 'typebox';

/** GET /v1/info: what this service is (version, engine, name semantics, limits). */
export const Info = Type.Object({
  name: Type.String(),
  version: Type.String(),
  boot: Type.String({ description: 'This server process; the prefix of every event id' }),
  startedAt: Type.String({ format: 'date-time' }),
  node: Type.String(),
  platform: Type.String(),
  arch: Type.String(),
  engine: Type.Object({
    kind: Type.String(),
    nameScope: Type.String(),
    clock: Type.String(),
    details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
  }),
  names: Type.Object({
    maxLength: Type.Integer(),
    prefixes: Type.Array(Type.String()),
    caseSensitive: Type.Boolean(),
    bareNamesMeanLocal: Type.Boolean(),
    semantics: Type.String(),
  }),
  pool: Type.Object({ minThreads: Type.Integer(), maxThreads: Type.Integer(), threadsLimit: Type.Integer() }),
  limits: Type.Record(Type.String(), Type.Integer()),
  events: Type.Object({ bufferSize: Type.Integer(), heartbeatMs: Type.Integer(), maxBufferedBytes: Type.Integer() }),
  workHistory: Type.Integer(),
});
export type InfoView = Static<typeof Info>;
