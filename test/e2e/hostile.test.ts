/**
 * Hostile input, property-based (fast-check): thousands of random and malformed
 * requests at a real server — odd paths, names with odd Unicode, huge numbers, wrong
 * types, broken JSON, oversized bodies, bad headers, bad Last-Event-ID. Every one is
 * invalid by construction, so the server must answer each with a 4xx problem+json,
 * never a 5xx, and afterwards hold exactly the state it had before.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Problem } from './api.js';
import { stateSnapshot } from './checks.js';
import { hostileRequest } from './hostile-requests.js';
import { useTarget } from './target.js';

const target = useTarget();
const RUNS = Number(process.env['HOSTILE_RUNS'] ?? 10_000);

const snapshot = () => stateSnapshot(target.api, target.baseUrl);

describe('hostile input', () => {
  it(`${RUNS} random malformed requests: never a 5xx, always a problem, nothing changes`, async () => {
    const before = await snapshot();
    await fc.assert(fc.asyncProperty(hostileRequest, async (req) => {
      const res = await fetch(`${target.baseUrl}${req.path}`, { method: req.method, headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }) });
      const body = await res.text();
      const where = `${req.method} ${req.path.slice(0, 120)} → ${res.status} ${body.slice(0, 200)}`;
      assert.ok(res.status >= 400 && res.status < 500, where);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, where);
      const problem = JSON.parse(body) as Problem;
      assert.equal(problem.status, res.status, where);
      assert.ok(problem.type && problem.title && problem.detail, where);
      assert.doesNotMatch(body, /\bat [\w.<>]+ \(|node:internal|\.js:\d+/, `${where}: no stack trace`);
    }), { numRuns: RUNS, verbose: 1 });
    assert.deepEqual(await snapshot(), before);
  });

  it('raw garbage that is not HTTP gets a 400 problem and a closed connection', async () => {
    const lines = ['GARBAGE\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /v1/info HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', '\u0000\u0001\u0002\r\n\r\n',
      `GET /v1/info HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`];
    const url = new URL(target.baseUrl);
    for (const line of lines) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => socket.end(line));
        let data = '';
        socket.setEncoding('utf8').on('data', (d: string) => { data += d; }).on('close', () => resolve(data)).on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 4\d\d /, JSON.stringify(line.slice(0, 40)));
      assert.match(answer, /application\/problem\+json/);
    }
  });
});
