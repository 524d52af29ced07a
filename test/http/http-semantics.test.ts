/**
 * HTTP details a validating proxy or a generated client relies on: 415 for a body that
 * is not JSON, 405 with Allow for a method a known path does not answer, and a 400
 * problem for a list cursor this process never issued.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTestApp } from '../helpers/app.js';

describe('HTTP semantics', () => {
  it('a body that is not JSON gets 415 unsupported-media-type, and no work is created', async (t) => {
    const app = await buildTestApp(t);
    const res = await app.inject({ method: 'POST', url: '/v1/work', headers: { 'content-type': 'text/plain' }, payload: '{"mutex":"m"}' });
    assert.equal(res.statusCode, 415);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json<{ type: string }>().type, 'urn:tpmutex:problem:unsupported-media-type');
    assert.deepEqual(res.json<{ detail: string }>().detail.includes('application/json'), true);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/work' })).json<{ items: unknown[] }>().items.length, 0);
  });

  it('an unsupported method on a known path gets 405 with Allow; an unknown path stays 404', async (t) => {
    const app = await buildTestApp(t);
    const cases: [string, string, string][] = [
      ['PATCH', '/v1/work', 'GET, HEAD, POST'],
      ['PUT', '/v1/work/abc.1', 'DELETE, GET, HEAD'],
      ['POST', '/v1/mutexes/Local%5Cx', 'DELETE, GET, HEAD, PUT'],
      ['DELETE', '/v1/pool?x=1', 'GET, HEAD, PATCH'],
    ];
    for (const [method, url, allow] of cases) {
      const res = await app.inject({ method: method as 'GET', url });
      assert.equal(res.statusCode, 405, `${method} ${url}`);
      assert.equal(res.headers['allow'], allow, `${method} ${url}`);
      assert.equal(res.json<{ type: string }>().type, 'urn:tpmutex:problem:method-not-allowed');
    }
    const unknown = await app.inject({ method: 'GET', url: '/v1/nothing-here' });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.headers['allow'], undefined);
  });

  it('a cursor this process never issued gets a 400 problem, not an empty page', async (t) => {
    const app = await buildTestApp(t);
    for (let i = 0; i < 3; i++) await app.inject({ method: 'PUT', url: `/v1/mutexes/m${i}` });
    const page = await app.inject({ method: 'GET', url: '/v1/mutexes?limit=1' });
    const next = page.json<{ nextCursor: string }>().nextCursor;
    assert.equal((await app.inject({ method: 'GET', url: `/v1/mutexes?cursor=${next}` })).statusCode, 200, 'an issued cursor works');
    for (const url of ['/v1/mutexes?cursor=zzzzzz', '/v1/work?cursor=zzzzzz', '/v1/work?cursor=Not-A_Cursor']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 400, url);
      assert.deepEqual(res.json<{ errors: { field: string }[] }>().errors.map((e) => e.field), ['query/cursor'], url);
    }
  });
});
