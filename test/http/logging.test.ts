import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loggerOptions } from '../../src/http/logging.js';
import { Api } from '../e2e/api.js';
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
});
