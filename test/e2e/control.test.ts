/**
 * Signal and cancel in every state, as a client drives them: queued, waiting,
 * holding, terminal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkView } from '../../src/schemas/work.js';
import { uniqueName, type Api } from './api.js';
import { SseClient } from './sse.js';
import { useTarget } from './target.js';

const target = useTarget();

/** Waits (through the event stream) until the work reached a state. */
async function reach(api: Api, baseUrl: string, id: string, type: string): Promise<void> {
  const stream = await SseClient.open(baseUrl, `/v1/events?work=${encodeURIComponent(id)}&after=0`);
  try {
    await stream.waitFor(() => stream.events.some((e) => e.type === type), 60_000, `${id} ${type}`);
  } finally {
    stream.close();
  }
  void api;
}

describe('signal', () => {
  it('ends an untilSignaled hold: returned (signaled) → released', async () => {
    const { api, baseUrl } = target;
    const w = await api.submitOk({ mutex: uniqueName('sig'), untilSignaled: true });
    await reach(api, baseUrl, w.id, 'work.acquired');
    assert.equal((await api.work(w.id)).body.state, 'holding');
    const res = await api.signal(w.id);
    assert.equal(res.status, 202);
    const done = await api.waitTerminal(w.id);
    assert.equal(done.state, 'released');
    assert.equal(done.signaled, true);
  });

  it('ends a long fixed hold early', async () => {
    const { api, baseUrl } = target;
    const w = await api.submitOk({ mutex: uniqueName('sig-long'), holdMs: 600_000 });
    await reach(api, baseUrl, w.id, 'work.acquired');
    await api.signal(w.id);
    const done = await api.waitTerminal(w.id);
    assert.equal(done.state, 'released');
    assert.equal(done.signaled, true);
  });

  it('sent while waiting, ends the hold as soon as it acquires', async () => {
    const { api, baseUrl } = target;
    const name = uniqueName('sig-wait');
    const holder = await api.submitOk({ mutex: name, untilSignaled: true });
    await reach(api, baseUrl, holder.id, 'work.acquired');
    const waiter = await api.submitOk({ mutex: name, untilSignaled: true });
    await reach(api, baseUrl, waiter.id, 'work.started');
    assert.equal((await api.signal(waiter.id)).status, 202);
    await api.signal(holder.id);
    const done = await api.waitTerminal(waiter.id);
    assert.equal(done.state, 'released');
    assert.equal(done.signaled, true);
  });

  it('is 409 once the work is terminal, and 404 for an unknown work', async () => {
    const { api } = target;
    const done = await api.waitTerminal((await api.submitOk({ mutex: uniqueName('sig-done') })).id);
    const res = await api.signal(done.id);
    assert.equal(res.status, 409);
    assert.match(res.headers.get('content-type')!, /application\/problem\+json/);
    assert.equal((await api.signal('nope.1')).status, 404);
  });
});

describe('cancel', () => {
  let restore: { minThreads: number; maxThreads: number };
  before(async () => {
    const pool = (await target.api.request<{ minThreads: number; maxThreads: number }>('GET', '/v1/pool')).body;
    restore = { minThreads: pool.minThreads, maxThreads: pool.maxThreads };
  });
  after(async () => { await target.api.request('PATCH', '/v1/pool', { body: restore }); });

  it('queued → cancelled, never acquires', async () => {
    const { api, baseUrl } = target;
    // One pool thread, occupied by a holder: the next work stays queued.
    assert.equal((await api.request('PATCH', '/v1/pool', { body: { minThreads: 1, maxThreads: 1 } })).status, 200);
    const holder = await api.submitOk({ mutex: uniqueName('occupy'), untilSignaled: true });
    await reach(api, baseUrl, holder.id, 'work.acquired');
    const queued = await api.submitOk({ mutex: uniqueName('queued') });
    assert.equal((await api.work(queued.id)).body.state, 'queued');
    const res = await api.cancel(queued.id);
    assert.equal(res.status, 202);
    assert.equal(res.body.cancelRequested, true);
    const done = await api.waitTerminal(queued.id);
    assert.equal(done.state, 'cancelled');
    assert.equal(done.acquiredAt, null);
    await api.signal(holder.id);
    assert.equal((await api.waitTerminal(holder.id)).state, 'released');
    await api.request('PATCH', '/v1/pool', { body: restore });
  });

  it('waiting → the wait is aborted → cancelled; the holder is unaffected', async () => {
    const { api, baseUrl } = target;
    const name = uniqueName('cancel-wait');
    const holder = await api.submitOk({ mutex: name, untilSignaled: true });
    await reach(api, baseUrl, holder.id, 'work.acquired');
    const waiter = await api.submitOk({ mutex: name, acquireTimeoutMs: 600_000 });
    await reach(api, baseUrl, waiter.id, 'work.started');
    assert.equal((await api.mutex(name)).body.waiting, 1);
    assert.equal((await api.cancel(waiter.id)).status, 202);
    const done = await api.waitTerminal(waiter.id);
    assert.equal(done.state, 'cancelled');
    assert.equal(done.fencingToken, null);
    const m = (await api.mutex(name)).body;
    assert.equal(m.waiting, 0);
    assert.equal(m.holder?.workId, holder.id);
    await api.signal(holder.id);
    await api.waitTerminal(holder.id);
  });

  it('holding → like signal: returns, then released', async () => {
    const { api, baseUrl } = target;
    const w = await api.submitOk({ mutex: uniqueName('cancel-hold'), untilSignaled: true });
    await reach(api, baseUrl, w.id, 'work.acquired');
    assert.equal((await api.cancel(w.id)).status, 202);
    const done: WorkView = await api.waitTerminal(w.id);
    assert.equal(done.state, 'released');
    assert.equal(done.signaled, true);
    assert.equal(done.cancelRequested, true);
  });

  it('is 409 once terminal', async () => {
    const { api } = target;
    const done = await api.waitTerminal((await api.submitOk({ mutex: uniqueName('cancel-done') })).id);
    assert.equal((await api.cancel(done.id)).status, 409);
  });
});
