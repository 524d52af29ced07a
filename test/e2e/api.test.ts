/**
 * The HTTP API v1 surface (docs/design.md §3): health, info, spec, mutexes, work, pool.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MutexView } from '../../src/schemas/mutex.js';
import type { WorkView } from '../../src/schemas/work.js';
import { enc, uniqueName } from './api.js';
import { SseClient } from './sse.js';
import { useTarget } from './target.js';

const target = useTarget();

interface InfoBody {
  name: string;
  version: string;
  engine: { kind: string; nameScope: string; details: Record<string, unknown> };
  names: { maxLength: number; prefixes: string[] };
  limits: Record<string, number>;
  pool: { minThreads: number; maxThreads: number };
}

describe('health, info and the spec', () => {
  it('livez and readyz answer 200 when running', async () => {
    assert.equal((await target.api.request('GET', '/livez')).status, 200);
    const ready = await target.api.request<{ status: string }>('GET', '/readyz');
    assert.deepEqual([ready.status, ready.body.status], [200, 'ready']);
  });

  it('/v1/info describes version, engine, name semantics and limits', async () => {
    const { body } = await target.api.request<InfoBody>('GET', '/v1/info');
    assert.equal(body.name, 'tpmutex');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.ok(['emulated', 'win32'].includes(body.engine.kind));
    assert.equal(body.engine.nameScope, body.engine.kind === 'win32' ? 'os' : 'process');
    assert.equal(body.names.maxLength, 260);
    assert.deepEqual(body.names.prefixes, ['Global\\', 'Local\\']);
    for (const key of ['maxMutexes', 'maxQueuedWork', 'maxAcquireTimeoutMs', 'maxHoldMs', 'maxSpinMs', 'maxLabelLength', 'bodyLimit']) {
      assert.equal(typeof body.limits[key], 'number', key);
    }
    assert.ok(body.pool.maxThreads >= body.pool.minThreads);
    // Every test run of the win32 engine is checked (ENGINE_CHECKED in E2E_SERVER_ENV):
    // a broken Windows rule fails a work here instead of passing silently under Wine.
    if (body.engine.kind === 'win32') assert.equal(body.engine.details['checked'], true);
  });

  it('serves the OpenAPI document and Swagger UI', async () => {
    const spec = await target.api.request<{ openapi: string; paths: Record<string, unknown> }>('GET', '/openapi.json');
    assert.equal(spec.status, 200);
    assert.match(spec.body.openapi, /^3\./);
    for (const path of ['/v1/work', '/v1/work/{id}', '/v1/mutexes/{name}', '/v1/events', '/v1/pool', '/v1/info']) {
      assert.ok(path in spec.body.paths, path);
    }
    const docs = await fetch(`${target.baseUrl}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
  });
});

describe('mutexes', () => {
  it('PUT creates (201), PUT again is 200 with existed, GET shows the live state, DELETE closes', async () => {
    const { api } = target;
    const name = uniqueName('crud', 'bare');
    const created = await api.putMutex(name);
    assert.equal(created.status, 201);
    assert.equal(created.body.name, `Local\\${name}`);
    assert.equal(created.body.existed, false);
    assert.equal(created.body.state, 'free');
    assert.deepEqual(created.body.counters, { acquisitions: 0, abandonedAcquisitions: 0, timeouts: 0 });
    const again = await api.putMutex(`Local\\${name}`);
    assert.equal(again.status, 200);
    assert.equal(again.body.name, `Local\\${name}`);
    assert.equal((await api.mutex(name)).body.name, `Local\\${name}`);
    const listed = await api.listAll<MutexView>('/v1/mutexes');
    assert.ok(listed.some((m) => m.name === `Local\\${name}`));
    const closed = await api.deleteMutex(name);
    assert.equal(closed.status, 200);
    assert.equal((await api.mutex(name)).status, 404);
    assert.equal((await api.deleteMutex(name)).status, 404);
  });

  it('shows holder and waiters; DELETE is 409 while in use', async () => {
    const { api, baseUrl } = target;
    const name = uniqueName('busy', 'Global');
    const holder = await api.submitOk({ mutex: name, untilSignaled: true });
    const stream = await SseClient.open(baseUrl, `/v1/events?mutex=${enc(name)}&after=0`);
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.acquired'), 60_000, 'acquired');
    const waiter = await api.submitOk({ mutex: name });
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.started' && (e['work'] as WorkView).id === waiter.id), 60_000, 'waiter started');
    const held = (await api.mutex(name)).body;
    assert.equal(held.state, 'held');
    assert.equal(held.holder?.workId, holder.id);
    assert.equal(typeof held.holder?.threadId, 'number');
    assert.equal(held.waiting, 1);
    assert.equal(held.fencingToken, 1);
    const refused = await api.deleteMutex(name);
    assert.equal(refused.status, 409);
    assert.match(refused.headers.get('content-type')!, /problem\+json/);
    await api.signal(holder.id);
    await api.signal(waiter.id);
    await api.waitTerminal(waiter.id);
    stream.close();
    const free = (await api.mutex(name)).body;
    assert.equal(free.state, 'free');
    assert.equal(free.counters.acquisitions, 2);
    assert.equal(free.fencingToken, 2);
    assert.equal((await api.deleteMutex(name)).status, 200);
  });

  it('paginates with limit and cursor', async () => {
    const { api } = target;
    const names = [1, 2, 3].map((i) => uniqueName(`page${i}`));
    for (const n of names) await api.putMutex(n);
    const all = await api.listAll<MutexView>('/v1/mutexes', 1);
    assert.deepEqual(all.filter((m) => names.includes(m.name)).map((m) => m.name), names);
    assert.equal(new Set(all.map((m) => m.name)).size, all.length, 'no item twice across pages');
    for (const n of names) await api.deleteMutex(n);
  });
});

describe('work', () => {
  it('POST answers 202 with Location; GET follows it', async () => {
    const { api } = target;
    const res = await api.submit({ mutex: uniqueName('loc'), label: 'hello' });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('location'), `/v1/work/${enc(res.body.id)}`);
    assert.equal(res.body.state, 'queued');
    assert.equal(res.body.label, 'hello');
    const done = await api.waitTerminal(res.body.id);
    assert.equal(done.state, 'released');
    assert.equal(done.abandoned, false);
    assert.equal(done.fencingToken, 1);
    for (const key of ['queuedAt', 'startedAt', 'acquiredAt', 'returnedAt', 'releasedAt', 'endedAt'] as const) {
      assert.ok(!Number.isNaN(Date.parse(done[key]!)), key);
    }
  });

  it('long-poll returns the work as it is when the timeout passes first', async () => {
    const { api } = target;
    const w = await api.submitOk({ mutex: uniqueName('lp'), untilSignaled: true });
    const began = Date.now();
    const res = await api.request<WorkView>('GET', `/v1/work/${enc(w.id)}?wait=terminal&timeoutMs=500`);
    const elapsed = Date.now() - began;
    assert.equal(res.status, 200);
    assert.notEqual(res.body.state, 'released');
    assert.ok(elapsed >= 480, `the long-poll answered after ${elapsed} ms, before its 500 ms timeout`);
    await api.signal(w.id);
    assert.equal((await api.waitTerminal(w.id)).state, 'released');
  });

  it('Idempotency-Key: same key and body → the same work; another body → 422', async () => {
    const { api } = target;
    const key = `key-${uniqueName('idem', 'bare')}`;
    const name = uniqueName('idem', 'bare');
    const first = await api.submit({ mutex: name, holdMs: 1 }, { 'idempotency-key': key });
    const replay = await api.submit({ holdMs: 1, mutex: `Local\\${name}` }, { 'idempotency-key': key });
    assert.equal(first.status, 202);
    assert.equal(replay.status, 202);
    assert.equal(replay.body.id, first.body.id);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    const other = await api.submit({ mutex: name, holdMs: 2 }, { 'idempotency-key': key });
    assert.equal(other.status, 422);
    assert.match((other.body as unknown as { detail: string }).detail, /different request/);
    const mine = await api.listAll<WorkView>(`/v1/work?mutex=${enc(name)}`);
    assert.equal(mine.length, 1);
  });

  it('lists with filters on state, mutex and label', async () => {
    const { api } = target;
    const name = uniqueName('filter');
    const label = uniqueName('label', 'bare');
    const a = await api.submitOk({ mutex: name, label });
    const b = await api.submitOk({ mutex: name, label, untilSignaled: true });
    await api.waitTerminal(a.id);
    const byLabel = await api.listAll<WorkView>(`/v1/work?label=${enc(label)}`);
    assert.deepEqual(byLabel.map((w) => w.id), [a.id, b.id]);
    const released = await api.listAll<WorkView>(`/v1/work?label=${enc(label)}&state=released`);
    assert.deepEqual(released.map((w) => w.id), [a.id]);
    const open = await api.listAll<WorkView>(`/v1/work?mutex=${enc(name)}&state=queued,waiting,holding`);
    assert.deepEqual(open.map((w) => w.id), [b.id]);
    await api.cancel(b.id);
    await api.waitTerminal(b.id);
  });

  it('mayRunLong reports the CallbackMayRunLong result: true while the pool can grow, false when it cannot', async () => {
    const { api } = target;
    const pool = (await api.request<{ minThreads: number; maxThreads: number }>('GET', '/v1/pool')).body;
    assert.ok(pool.maxThreads >= 2, 'the suite runs with room to grow');
    const roomy = await api.waitTerminal((await api.submitOk({ mutex: uniqueName('long'), mayRunLong: true })).id);
    assert.equal(roomy.mayRunLong, true, 'an idle pool below maxThreads can give the queue another thread');
    const plain = await api.waitTerminal((await api.submitOk({ mutex: uniqueName('short') })).id);
    assert.equal(plain.mayRunLong, null);
    // At most one thread, busy with this very callback: the pool cannot grow. A Windows
    // pool keeps idle threads above the new maximum until they have idled for a few
    // seconds (an idle thread is a legitimate TRUE), so ask again after quiet spells.
    assert.equal((await api.request('PATCH', '/v1/pool', { body: { minThreads: 1, maxThreads: 1 } })).status, 200);
    try {
      const answers: (boolean | null)[] = [];
      for (const deadline = Date.now() + 45_000; !answers.includes(false) && Date.now() < deadline;) {
        if (answers.length > 0) await new Promise((resolve) => setTimeout(resolve, 7_000));
        answers.push((await api.waitTerminal((await api.submitOk({ mutex: uniqueName('long-full'), mayRunLong: true })).id)).mayRunLong);
      }
      assert.equal(answers.at(-1), false, `a full pool at maxThreads 1 answered ${answers.join(', ')}`);
    } finally {
      await api.request('PATCH', '/v1/pool', { body: { minThreads: pool.minThreads, maxThreads: pool.maxThreads } });
    }
  });
});

describe('pool', () => {
  it('GET shows the figures; PATCH applies limits live; bad limits are 400', async () => {
    const { api, baseUrl } = target;
    const pool = (await api.request<Record<string, number | string>>('GET', '/v1/pool')).body;
    for (const key of ['minThreads', 'maxThreads', 'threads', 'active', 'queued', 'submitted', 'completed']) assert.equal(typeof pool[key], 'number', key);
    const restore = { minThreads: Number(pool['minThreads']), maxThreads: Number(pool['maxThreads']) };
    const bad = await api.request('PATCH', '/v1/pool', { body: { minThreads: 10, maxThreads: 5 } });
    assert.equal(bad.status, 400);
    assert.deepEqual((await api.request<Record<string, number>>('GET', '/v1/pool')).body['maxThreads'], restore.maxThreads, 'a refused change changes nothing');
    const stream = await SseClient.open(baseUrl, '/v1/events?types=work.acquired');
    const acquired = (id: string) => stream.events.some((e) => (e['work'] as WorkView).id === id);
    try {
      // Down to one thread: with it held, a second work on another mutex stays queued.
      const patched = await api.request<Record<string, number>>('PATCH', '/v1/pool', { body: { minThreads: 1, maxThreads: 1 } });
      assert.equal(patched.status, 200);
      assert.equal(patched.body['maxThreads'], 1);
      const first = await api.submitOk({ mutex: uniqueName('live-a'), untilSignaled: true });
      await stream.waitFor(() => acquired(first.id), 60_000, 'first acquired');
      const second = await api.submitOk({ mutex: uniqueName('live-b'), untilSignaled: true });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await api.work(second.id)).body.state, 'queued', 'maxThreads 1 applies: no second thread');
      assert.equal((await api.request<Record<string, number>>('GET', '/v1/pool')).body['queued'], 1);
      // Raised again: the queued work gets a thread while the first still holds.
      assert.equal((await api.request('PATCH', '/v1/pool', { body: { maxThreads: 2 } })).status, 200);
      await stream.waitFor(() => acquired(second.id), 60_000, 'second acquired after maxThreads was raised');
      assert.equal((await api.work(first.id)).body.state, 'holding');
      for (const w of [first, second]) await api.signal(w.id);
      for (const w of [first, second]) assert.equal((await api.waitTerminal(w.id)).state, 'released');
    } finally {
      stream.close();
      await api.request('PATCH', '/v1/pool', { body: restore });
    }
  });
});
