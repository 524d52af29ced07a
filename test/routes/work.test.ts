import assert from 'node:assert/strict';
import { it } from 'node:test';
import { toHttpProblem } from '../../src/http/problem.js';
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

it('readyz is 503 while an app closes, and a closing or closed app refuses new work', async (t) => {
  const app = await buildTestApp(t, { SHUTDOWN_DELAY_MS: '3000' });
  // Over a socket: Fastify's inject refuses to run once close() began.
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const submit = (mutex: string) => fetch(`${base}/v1/work`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mutex, untilSignaled: true }) });
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  const before = await submit('open');
  assert.equal(before.status, 202);
  const { id } = await before.json() as WorkView;
  const closing = app.close();
  // The drain delay: the app is really closing (nothing set by hand), and still answers.
  let draining = await fetch(`${base}/readyz`);
  for (const deadline = Date.now() + 2_000; draining.status === 200 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    draining = await fetch(`${base}/readyz`);
  }
  assert.equal(draining.status, 503);
  assert.equal((await draining.json() as { status: string }).status, 'draining');
  const refused = await submit('late');
  assert.equal(refused.status, 503);
  assert.equal((await refused.json() as { type: string }).type, 'urn:tpmutex:problem:shutting-down');
  await closing;
  assert.deepEqual(app.services.work.list({}, 100, undefined).items.map((w) => [w.id, w.state]),
    [[id, 'released']], 'the refused work left no trace; the open one was ended');
  assert.equal(app.services.mutexes.get('Local\\late'), undefined);
  // Closed: the service itself refuses too, whatever route leads to it.
  assert.throws(() => app.services.work.submit({ mutex: 'later' }, undefined), (err: unknown) => toHttpProblem(err)?.status === 503);
});

it('while draining, every route that creates work or opens an object gets 503 shutting-down and opens nothing', async (t) => {
  const app = await buildTestApp(t);
  // Set by hand: what is checked here is the guard's route list, not when a close sets the state.
  app.services.lifecycle.state = 'draining';
  const creating = [['POST', '/v1/work'], ['POST', '/v1/mutexes/late/abandon'], ['PUT', '/v1/mutexes/late'], ['PUT', '/v1/semaphores/late'], ['PUT', '/v1/event-objects/late']] as const;
  for (const [method, url] of creating) {
    const res = await app.inject({ method, url, ...(method === 'POST' && url === '/v1/work' ? { payload: { mutex: 'late' } } : {}) });
    assert.equal(res.statusCode, 503, `${method} ${url}`);
    assert.equal(res.json<{ type: string }>().type, 'urn:tpmutex:problem:shutting-down', `${method} ${url}`);
  }
  const { mutexes, semaphores, eventObjects, work } = app.services;
  assert.deepEqual([mutexes.size, semaphores.size, eventObjects.size, work.unfinishedCount], [0, 0, 0, 0]);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/semaphores' })).statusCode, 200, 'reads still answer');
});
