import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { loggerOptions } from '../../src/http/logging.js';
import type { WorkView } from '../../src/schemas/work.js';
import { Api } from '../e2e/api.js';
import { metricValue } from '../e2e/checks.js';
import { testConfig } from '../helpers/config.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { startServer } from '../helpers/server-process.js';

describe('logs', () => {
  it('pretty output only on a terminal; JSON with redaction otherwise', () => {
    const tty = loggerOptions('info', true) as { transport?: { target: string } };
    assert.equal(tty.transport?.target, 'pino-pretty');
    const pipe = loggerOptions('info', false) as { transport?: unknown; redact: { paths: string[] } };
    assert.equal(pipe.transport, undefined);
    assert.ok(pipe.redact.paths.includes('req.headers.authorization'));
  });

  it('a real server logs JSON lines with request ids, one line per work transition at debug, and no token', async (t) => {
    const token = 'log-test-token-0123456789';
    const server = await startServer({ ENGINE: 'emulated', LOG_LEVEL: 'debug', API_TOKENS: token });
    t.after(() => server.stop('SIGKILL'));
    const api = new Api(server.baseUrl);
    const auth = { authorization: `Bearer ${token}` };
    const res = await api.request<{ id: string }>('POST', '/v1/work', { body: { mutex: 'logged' }, headers: { ...auth, 'x-request-id': 'req-from-client-1' } });
    assert.equal(res.status, 202);
    await api.request('GET', `/v1/work/${res.body.id}?wait=terminal&timeoutMs=60000`, { headers: auth });
    assert.equal(await server.stop(), 0);
    const lines = server.logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l['reqId'] === 'req-from-client-1'), 'the client request id is logged');
    const transitions = lines.filter((l) => l['msg'] === 'work transition' && l['workId'] === res.body.id).map((l) => l['event']);
    assert.deepEqual(transitions, ['work.queued', 'work.started', 'work.acquired', 'work.returned', 'work.released']);
    assert.ok(!server.logs.some((l) => l.includes(token)), 'the token never reaches the log');
  });

  it('an engine history that breaks mutual exclusion is logged as an error, counted, and carried by the work', async (t) => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } });
    const engine = new ScriptedEngine();
    const app = await buildApp({ config: testConfig(), engine, loggerInstance: pino({ level: 'info' }, sink) });
    t.after(() => app.close());
    await app.ready();
    const [a, b] = [0, 1].map(() => app.services.work.submit({ mutex: 'overlap' }, undefined).work);
    engine.emit({ type: 'started', workId: a!.id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'acquired', workId: a!.id, threadId: 1, abandoned: false, fencingToken: 1 });
    engine.emit({ type: 'started', workId: b!.id, threadId: 2, mayRunLong: null });
    engine.emit({ type: 'acquired', workId: b!.id, threadId: 2, abandoned: false, fencingToken: 2 }); // a never returned
    const logged = lines.filter((l) => l['msg'] === 'invariant violated: mutual exclusion');
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!['level'], 50, 'at error level');
    assert.equal(logged[0]!['workId'], b!.id);
    assert.equal((logged[0]!['violation'] as { kind: string; previousWorkId: string }).previousWorkId, a!.id);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.equal(metricValue(metrics, 'tpmutex_invariant_violations_total', { kind: 'acquired_while_held' }), 1);
    const view = (await app.inject({ method: 'GET', url: `/v1/work/${b!.id}` })).json<WorkView>();
    assert.equal(view.invariantViolation?.kind, 'acquired_while_held');
    for (const w of [a!, b!]) {
      engine.emit({ type: 'returned', workId: w.id, signaled: false });
      engine.emit({ type: 'released', actions: ['release_mutex'], workId: w.id });
    }
  });
});
