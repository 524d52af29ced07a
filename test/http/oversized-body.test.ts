/**
 * A body over BODY_LIMIT gets its 413 problem on a connection that stays usable (the
 * rest of the body is read and discarded), so an uploading client never sees a reset
 * instead of the answer; a body announced larger than DRAIN_LIMIT_BYTES is not read.
 * On a real socket: that is where the difference shows.
 */
import assert from 'node:assert/strict';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { DRAIN_LIMIT_BYTES } from '../../src/http/oversized-body.js';
import { buildTestApp } from '../helpers/app.js';

interface Answer { status: number; headers: IncomingHttpHeaders; body: string; reusedSocket: boolean }

function post(url: string, agent: Agent, body: string | { announced: number; sent: string }): Promise<Answer> {
  const announced = typeof body === 'string' ? Buffer.byteLength(body) : body.announced;
  const sent = typeof body === 'string' ? body : body.sent;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': announced } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, reusedSocket: req.reusedSocket }));
    });
    req.on('error', reject);
    if (typeof body === 'string') req.end(sent);
    else req.write(sent); // the rest never comes: the answer must not wait for it
  });
}

describe('oversized bodies', () => {
  it('get 413 on a connection that stays open, and the next request reuses it', async (t) => {
    const app = await buildTestApp(t, { BODY_LIMIT: '16384' });
    const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/v1/work`;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());

    for (let i = 0; i < 5; i++) {
      const tooLarge = await post(url, agent, JSON.stringify({ mutex: 'big', label: 'x'.repeat(2_000_000) }));
      assert.equal(tooLarge.status, 413);
      assert.equal(tooLarge.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(tooLarge.body, /BODY_LIMIT/);
      assert.notEqual(tooLarge.headers.connection, 'close');
    }
    const next = await post(url, agent, JSON.stringify({ mutex: 'small' }));
    assert.equal(next.status, 202);
    assert.equal(next.reusedSocket, true, 'the connection that carried the oversized bodies is reused');
  });

  it('are not read when announced larger than DRAIN_LIMIT_BYTES: 413 and the connection closes', async (t) => {
    const app = await buildTestApp(t, { BODY_LIMIT: '16384' });
    const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/v1/work`;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const answer = await post(url, agent, { announced: DRAIN_LIMIT_BYTES + 1, sent: '{"mutex":"huge","label":"' });
    assert.equal(answer.status, 413);
    assert.equal(answer.headers.connection, 'close');
  });
});
