/**
 * PUT /v1/mutexes/{name} on the emulated engine: the 403s an OS refusal becomes, and
 * one mutex for two names of one kernel object (an engine configured for session 0,
 * where `Local\x` and `Global\x` are one object), through HTTP.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { it } from 'node:test';
import { buildApp, type App } from '../../src/app.js';
import { EmulatedEngine } from '../../src/engine/emulated/engine.js';
import type { MutexView } from '../../src/schemas/mutex.js';
import type { WorkView } from '../../src/schemas/work.js';
import { testConfig } from '../helpers/config.js';

async function appOn(t: TestContext, session: number): Promise<{ app: App; engine: EmulatedEngine }> {
  const engine = new EmulatedEngine({ pool: { minThreads: 1, maxThreads: 2 }, session });
  await engine.start();
  const app = await buildApp({ config: testConfig(), engine });
  t.after(() => app.close());
  await app.ready();
  return { app, engine };
}

const put = (app: App, name: string) => app.inject({ method: 'PUT', url: `/v1/mutexes/${encodeURIComponent(name)}` });

it('a mutex that refuses this process is 403 access-denied naming it, for PUT and for a work; not a 500', async (t) => {
  const { app, engine } = await appOn(t, 1);
  engine.refuseOpen('Local\\theirs', 'access_denied');
  const res = await put(app, 'theirs');
  assert.equal(res.statusCode, 403);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const problem = res.json<{ type: string; detail: string; status: number }>();
  assert.equal(problem.type, 'urn:tpmutex:problem:access-denied');
  assert.match(problem.detail, /Local\\theirs/);
  const work = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'theirs' } });
  assert.equal(work.statusCode, 403);
  assert.equal(work.json<{ type: string }>().type, 'urn:tpmutex:problem:access-denied');
  assert.equal((await app.inject({ method: 'GET', url: '/v1/mutexes' })).json<{ items: unknown[] }>().items.length, 0, 'nothing was recorded');
});

it('a Global\\ create without SeCreateGlobalPrivilege is 403 privilege-required and says so', async (t) => {
  const { app, engine } = await appOn(t, 1);
  engine.refuseOpen('Global\\Deploy', 'privilege_required');
  const res = await put(app, 'Global\\Deploy');
  assert.equal(res.statusCode, 403);
  const problem = res.json<{ type: string; detail: string }>();
  assert.equal(problem.type, 'urn:tpmutex:problem:privilege-required');
  assert.match(problem.detail, /SeCreateGlobalPrivilege/);
  assert.match(problem.detail, /Global\\Deploy/);
});

it('the mutex object shows its kernel name and the boot', async (t) => {
  const { app } = await appOn(t, 1);
  const local = (await put(app, 'k')).json<MutexView>();
  assert.equal(local.kernelName, '\\Sessions\\1\\BaseNamedObjects\\k');
  const global = await put(app, 'Global\\k');
  assert.equal(global.statusCode, 201, 'outside session 0 another object');
  assert.equal(global.json<MutexView>().kernelName, '\\BaseNamedObjects\\k');
  const info = (await app.inject({ method: 'GET', url: '/v1/info' })).json<{ boot: string }>();
  assert.equal(local.boot, info.boot);
});

it('PUT of a mutex already open in this service is 200 existed: true, as for semaphores and event objects; GET keeps the OS answer', async (t) => {
  const { app } = await appOn(t, 0);
  const created = await put(app, 'again');
  assert.deepEqual([created.statusCode, created.json<MutexView>().existed], [201, false]);
  const again = await put(app, 'again');
  assert.deepEqual([again.statusCode, again.json<MutexView>().existed], [200, true]);
  const alias = await put(app, 'Global\\again');
  assert.deepEqual([alias.statusCode, alias.json<MutexView>().existed], [200, true]);
  const got = await app.inject({ method: 'GET', url: '/v1/mutexes/again' });
  assert.equal(got.json<MutexView>().existed, false, 'it did not exist in the OS before this service opened it');
});

it('session 0: Local\\x and Global\\x are one mutex with one fencing sequence', async (t) => {
  const { app } = await appOn(t, 0);
  assert.equal((await put(app, 'Local\\x')).statusCode, 201);
  const alias = await put(app, 'Global\\x');
  assert.equal(alias.statusCode, 200);
  const view = alias.json<MutexView>();
  assert.equal(view.name, 'Local\\x');
  assert.deepEqual(view.aliases, ['Global\\x']);
  assert.equal(view.kernelName, '\\BaseNamedObjects\\x');
  const tokens: number[] = [];
  for (const mutex of ['Global\\x', 'Local\\x', 'Global\\x']) {
    const submitted = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex } });
    assert.equal(submitted.statusCode, 202);
    const done = await app.inject({ method: 'GET', url: `/v1/work/${submitted.json<WorkView>().id}?wait=terminal&timeoutMs=60000` });
    const work = done.json<WorkView>();
    assert.equal(work.state, 'released');
    assert.equal(work.mutex, 'Local\\x');
    tokens.push(work.fencingToken ?? 0);
  }
  assert.deepEqual(tokens, [1, 2, 3]);
  const list = (await app.inject({ method: 'GET', url: '/v1/mutexes' })).json<{ items: MutexView[] }>();
  assert.equal(list.items.length, 1);
  assert.equal((await app.inject({ method: 'DELETE', url: `/v1/mutexes/${encodeURIComponent('Global\\x')}` })).statusCode, 200);
  // Reopened: the token sequence goes on, on the engine and in the view.
  const reopened = (await put(app, 'Global\\x')).json<MutexView>();
  assert.equal(reopened.fencingToken, 3);
  const again = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'Local\\x' } });
  const done = await app.inject({ method: 'GET', url: `/v1/work/${again.json<WorkView>().id}?wait=terminal&timeoutMs=60000` });
  assert.equal(done.json<WorkView>().fencingToken, 4);
  assert.equal(done.json<WorkView>().boot, reopened.boot);
});
