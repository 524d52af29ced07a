import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { WorkView } from '../../src/schemas/work.js';
import { buildTestApp } from '../helpers/app.js';

it('GET of a work evicted beyond WORK_HISTORY is 404 "evicted", not "never existed"', async (t) => {
  const app = await buildTestApp(t, { WORK_HISTORY: '2' });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'evict' } });
    assert.equal(res.statusCode, 202);
    const { id } = res.json<WorkView>();
    ids.push(id);
    const done = await app.inject({ method: 'GET', url: `/v1/work/${id}?wait=terminal&timeoutMs=60000` });
    assert.equal(done.json<WorkView>().state, 'released');
  }
  const evicted = await app.inject({ method: 'GET', url: `/v1/work/${ids[0]}` });
  assert.equal(evicted.statusCode, 404);
  assert.match(String(evicted.headers['content-type']), /^application\/problem\+json/);
  assert.equal(evicted.json<{ type: string }>().type, 'urn:tpmutex:problem:work-evicted');
  assert.equal((await app.inject({ method: 'GET', url: `/v1/work/${ids[1]}` })).statusCode, 200);
  const never = await app.inject({ method: 'GET', url: '/v1/work/zz.1' });
  assert.equal(never.json<{ type: string }>().type, 'urn:tpmutex:problem:work-not-found');
  const list = await app.inject({ method: 'GET', url: '/v1/work' });
  assert.deepEqual(list.json<{ items: WorkView[] }>().items.map((w) => w.id), ids.slice(1));
});

it('limits come from configuration: MAX_HOLD_MS and MAX_MUTEXES', async (t) => {
  const app = await buildTestApp(t, { MAX_HOLD_MS: '100', MAX_MUTEXES: '1' });
  const tooLong = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'a', holdMs: 101 } });
  assert.equal(tooLong.statusCode, 400);
  assert.match(tooLong.json<{ detail: string }>().detail, /MAX_HOLD_MS/);
  assert.equal((await app.inject({ method: 'PUT', url: '/v1/mutexes/a' })).statusCode, 201);
  const second = await app.inject({ method: 'PUT', url: '/v1/mutexes/b' });
  assert.equal(second.statusCode, 429);
  assert.equal(second.json<{ limit: string }>().limit, 'MAX_MUTEXES');
  assert.equal((await app.inject({ method: 'GET', url: '/v1/mutexes' })).json<{ items: unknown[] }>().items.length, 1);
});

it('readyz is 503 while draining, and a closed app refuses new work', async (t) => {
  const app = await buildTestApp(t);
  assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  app.services.lifecycle.state = 'draining';
  const draining = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(draining.statusCode, 503);
  assert.equal(draining.json<{ status: string }>().status, 'draining');
  app.services.lifecycle.state = 'ready';
});
