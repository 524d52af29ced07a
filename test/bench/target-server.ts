/**
 * The process under load for submitRatio: the real service (buildApp, the engine named
 * by ENGINE: emulated by default, win32 under Windows Node) and, in the same process, a
 * bare Fastify route that answers a JSON of the same size as a work object — the floor
 * any HTTP route in this process pays — and the service once more on an engine with no
 * threads (threadless-engine.ts), for the breakdown.
 * Prints `{"service":port,"bare":port,"threadless":port,"bytes":n}` on stdout when all
 * listen (under Wine stdout is a log file, which submit.ts polls).
 */
import Fastify from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { selectEngine } from '../../src/engine/select.js';
import { ThreadlessEngine } from './threadless-engine.js';

const engineKind = process.env['ENGINE'] === 'win32' ? 'win32' : 'emulated';
const config = loadConfig({
  ENGINE: engineKind, LOG_LEVEL: 'silent', POOL_MIN_THREADS: '4', POOL_MAX_THREADS: '16',
  MAX_QUEUED_WORK: '1000000', MAX_QUEUED_WORK_PER_MUTEX: '1000000', WORK_HISTORY: '20000', MAX_EVENT_LOOP_DELAY_MS: '0',
});
const engine = await selectEngine(engineKind, { pool: { minThreads: 4, maxThreads: 16 } });
const app = await buildApp({ config, engine });
await app.listen({ host: '127.0.0.1', port: 0 });
const threadless = await buildApp({ config, engine: new ThreadlessEngine() });
await threadless.listen({ host: '127.0.0.1', port: 0 });

// A work object as POST /v1/work returns it, captured once, replayed by the bare route.
const sample = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'bench-sample' } });
const sameSize = sample.body;
const bare = Fastify();
bare.post('/bare', async (_req, reply) => reply.code(202).type('application/json; charset=utf-8').send(sameSize));
await bare.listen({ host: '127.0.0.1', port: 0 });

const portOf = (server: { address(): unknown }) => (server.address() as { port: number }).port;
console.log(JSON.stringify({ service: portOf(app.server), bare: portOf(bare.server), threadless: portOf(threadless.server), bytes: sameSize.length }));
process.on('SIGTERM', () => { void Promise.all([app.close(), bare.close(), threadless.close()]).then(() => process.exit(0)); });
