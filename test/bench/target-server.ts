/**
 * The process under load for submitRatio: the real service (buildApp, the engine named
 * by ENGINE: emulated by default, win32 under Windows Node) and, in the same process, a
 * bare Fastify route that answers the same bytes as POST /v1/work (submitRatioInProcess's
 * baseline: it shares this process with the engine's threads and heap, so it is slowed
 * by them too) and the service once more on an engine with no threads
 * (threadless-engine.ts), for the breakdown. submitRatio's own baseline is bare-server.ts,
 * in a process of its own, answering the bytes captured here.
 * Prints `{"service":port,"bare":port,"threadless":port,"bytes":n,"answer":base64}` on
 * stdout when all listen (under Wine stdout is a log file, which submit.ts polls).
 */
import Fastify from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { appOnEngine } from '../helpers/app.js';
import type { BareAnswer } from './bare-server.js';
import { ThreadlessEngine } from './threadless-engine.js';

const engineKind = process.env['ENGINE'] === 'win32' ? 'win32' : 'emulated';
const config = loadConfig({
  ENGINE: engineKind, LOG_LEVEL: 'silent', POOL_MIN_THREADS: '4', POOL_MAX_THREADS: '16',
  MAX_QUEUED_WORK: '1000000', MAX_QUEUED_WORK_PER_MUTEX: '1000000', WORK_HISTORY: '20000', MAX_EVENT_LOOP_DELAY_MS: '0',
});
const app = await appOnEngine(config);
await app.listen({ host: '127.0.0.1', port: 0 });
const threadless = await buildApp({ config, engine: new ThreadlessEngine() });
await threadless.listen({ host: '127.0.0.1', port: 0 });

// The answer to POST /v1/work (body and headers), captured once, replayed by the bare
// routes: this one, and the out-of-process one (bare-server.ts), to which it is handed.
const sample = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'bench-sample' } });
const answer: BareAnswer = {
  body: sample.body,
  headers: Object.fromEntries(Object.entries(sample.headers)
    .filter(([name]) => !['date', 'content-length', 'connection', 'keep-alive', 'transfer-encoding'].includes(name))
    .map(([name, value]) => [name, String(value)])),
};
const bare = Fastify();
bare.post('/bare', async (_req, reply) => reply.code(202).headers(answer.headers).send(answer.body));
await bare.listen({ host: '127.0.0.1', port: 0 });

const portOf = (server: { address(): unknown }) => (server.address() as { port: number }).port;
console.log(JSON.stringify({
  service: portOf(app.server), bare: portOf(bare.server), threadless: portOf(threadless.server),
  bytes: answer.body.length, answer: Buffer.from(JSON.stringify(answer)).toString('base64'),
}));
process.on('SIGTERM', () => { void Promise.all([app.close(), bare.close(), threadless.close()]).then(() => process.exit(0)); });
