import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MAX_NAME_LENGTH } from '../mutex/names.js';
import { Info } from '../schemas/info.js';
import type { Services } from '../services.js';
import { version } from '../version.js';

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
