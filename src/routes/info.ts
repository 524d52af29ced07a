import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MAX_NAME_LENGTH } from '../mutex/names.js';
import type { Services } from '../services.js';
import { version } from '../version.js';

const Info = Type.Object({
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

export const infoRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { config, engine } = services;
  app.get('/v1/info', { schema: { operationId: 'getInfo', tags: ['info'], summary: 'Version, engine, name semantics, limits', response: { 200: Info } } }, async () => {
    const pool = engine.poolStats();
    return {
      name: 'tpmutex',
      version,
      boot: services.events.boot,
      startedAt: services.lifecycle.startedAt,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      engine: { ...engine.info, details: { ...engine.info.details } },
      names: {
        maxLength: MAX_NAME_LENGTH,
        prefixes: ['Global\\', 'Local\\'],
        caseSensitive: true,
        bareNamesMeanLocal: true,
        semantics: engine.info.nameScope === 'os'
          ? 'Windows kernel named mutexes: shared with every process of the session (Local\\) or of the machine (Global\\); names with one kernelName (in session 0, Local\\x and Global\\x) are one mutex'
          : 'Emulated: names live in this service process only; no other process can see or take these mutexes',
      },
      pool: { minThreads: pool.minThreads, maxThreads: pool.maxThreads, threadsLimit: config.pool.threadsLimit },
      limits: config.limits,
      events: config.events,
      workHistory: config.workHistory,
    };
  });
};
