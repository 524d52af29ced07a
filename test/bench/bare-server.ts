/**
 * The baseline of submitRatio: a bare Fastify server alone in its process (no engine, no
 * pool threads, no service beside it) whose one route answers POST /bare with the body
 * and headers POST /v1/work answers (captured by target-server.ts, handed over base64 in
 * BENCH_BARE_ANSWER by submit.ts). It parses the JSON request body, as the service does.
 * Prints `{"bare":port}` on stdout once listening (under Wine stdout is a log file).
 */
import Fastify from 'fastify';

/** The answer of POST /v1/work as the bare routes replay it. */
export interface BareAnswer { body: string; headers: Record<string, string> }

const encoded = process.env['BENCH_BARE_ANSWER'];
if (encoded === undefined || encoded === '') throw new Error('BENCH_BARE_ANSWER is not set');
const answer = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as BareAnswer;
const bare = Fastify();
bare.post('/bare', async (_req, reply) => reply.code(202).headers(answer.headers).send(answer.body));
await bare.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ bare: (bare.server.address() as { port: number }).port }));
process.on('SIGTERM', () => { void bare.close().then(() => process.exit(0)); });
