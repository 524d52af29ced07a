/**
 * Semaphores, event objects and abandonment on cue over HTTP (issue 11's contract):
 * the routes, bad input, name conflicts across kinds, objects in use, the return
 * actions, and the invariants (a semaphore never has more holders here than its
 * maximumCount; every work ends exactly once).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventObjectView } from '../../src/schemas/event-object.js';
import type { SemaphoreView } from '../../src/schemas/semaphore.js';
import type { WorkView } from '../../src/schemas/work.js';
import { until } from '../helpers/wait.js';
import { enc, uniqueName, type Problem } from './api.js';
import { SseClient } from './sse.js';
import { useTarget } from './target.js';

const target = useTarget();
const LONG = 60_000;

const putSemaphore = (name: string, body?: unknown) =>
  target.api.request<SemaphoreView & Problem>('PUT', `/v1/semaphores/${enc(name)}`, body === undefined ? {} : { body });
const semaphore = (name: string) => target.api.request<SemaphoreView & Problem>('GET', `/v1/semaphores/${enc(name)}`);
const putEvent = (name: string, body?: unknown) =>
  target.api.request<EventObjectView & Problem>('PUT', `/v1/event-objects/${enc(name)}`, body === undefined ? {} : { body });
const eventObject = (name: string) => target.api.request<EventObjectView & Problem>('GET', `/v1/event-objects/${enc(name)}`);
const abandon = (name: string, body?: unknown, headers: Record<string, string> = {}) =>
  target.api.request<WorkView & Problem>('POST', `/v1/mutexes/${enc(name)}/abandon`, { ...(body === undefined ? {} : { body }), headers });

/** Polls the work until it is in `state` (the engine moves it asynchronously). */
const untilState = (id: string, state: WorkView['state']) =>
  until(`work ${id} ${state}`, async () => {
    const w = (await target.api.work(id)).body;
    return w.state === state ? w : undefined;
  }, LONG, 20);

function assertProblem(res: { status: number; body: unknown; headers: Headers }, status: number, type: string, field?: string): void {
  const body = res.body as Problem;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
  assert.equal(body.type, `urn:tpmutex:problem:${type}`);
  if (field !== undefined) assert.ok(body.errors?.some((e) => e.field === field), `${field} in ${JSON.stringify(body.errors)}`);
}

/**
 * Whether the engine reports Wine's return-action order (the emulated engine and
 * Windows: mutex → event → semaphore): engine.details.returnActionOrder, or, from an
 * engine that only says whether it runs under Wine, details.wine (as test/engine/harness.ts reads it).
 */
async function wineOrder(): Promise<boolean> {
  const info = await target.api.request<{ engine: { details: Record<string, unknown> } }>('GET', '/v1/info');
  const { details } = info.body.engine;
  return (details['returnActionOrder'] ?? (details['wine'] === true ? 'wine' : 'windows')) === 'wine';
}

describe('semaphores', () => {
  it('PUT creates (201) with its counts, PUT again is 200 existed with the counts ignored, GET and the list show it, DELETE is 204', async () => {
    const name = uniqueName('sem', 'bare');
    const created = await putSemaphore(name, { initialCount: 2, maximumCount: 3 });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, `Local\\${name}`);
    assert.deepEqual([created.body.count, created.body.maximumCount, created.body.existed], [2, 3, false]);
    assert.deepEqual([created.body.holders, created.body.waiting, created.body.queued], [[], 0, 0]);
    const again = await putSemaphore(`Local\\${name}`, { initialCount: 0, maximumCount: 9 });
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.count, again.body.maximumCount, again.body.existed], [2, 3, true]);
    assert.equal((await semaphore(name)).body.count, 2);
    const listed = await target.api.listAll<SemaphoreView>('/v1/semaphores');
    assert.ok(listed.some((s) => s.name === `Local\\${name}`));
    const closed = await target.api.request('DELETE', `/v1/semaphores/${enc(name)}`);
    assert.equal(closed.status, 204);
    assert.equal(closed.text, '');
    assertProblem(await semaphore(name), 404, 'object-not-open');
    assertProblem(await target.api.request('DELETE', `/v1/semaphores/${enc(name)}`), 404, 'object-not-open');
  });

  it('pages the list with limit and cursor, in opening order', async () => {
    const names = [1, 2, 3].map((i) => uniqueName(`sem-page${i}`));
    for (const n of names) await putSemaphore(n);
    const all = await target.api.listAll<SemaphoreView>('/v1/semaphores', 1);
    assert.deepEqual(all.filter((s) => names.includes(s.name)).map((s) => s.name), names);
    assert.equal(new Set(all.map((s) => s.name)).size, all.length, 'no item twice across pages');
    assertProblem(await target.api.request('GET', '/v1/semaphores?cursor=zzzzzz'), 400, 'validation', 'query/cursor');
    for (const n of names) await target.api.request('DELETE', `/v1/semaphores/${enc(n)}`);
  });

  it('defaults to 1/1 without a body', async () => {
    const name = uniqueName('sem-default');
    const res = await target.api.request<SemaphoreView>('PUT', `/v1/semaphores/${enc(name)}`);
    assert.equal(res.status, 201);
    assert.deepEqual([res.body.count, res.body.maximumCount], [1, 1]);
    await target.api.request('DELETE', `/v1/semaphores/${enc(name)}`);
  });

  it('refuses bad counts with a 400 naming the field, and opens nothing', async () => {
    const name = uniqueName('sem-bad');
    const info = await target.api.request<{ limits: Record<string, number> }>('GET', '/v1/info');
    const max = info.body.limits['maxSemaphoreCount']!;
    assertProblem(await putSemaphore(name, { maximumCount: 0 }), 400, 'validation', 'body/maximumCount');
    assertProblem(await putSemaphore(name, { maximumCount: max + 1 }), 400, 'validation', 'body/maximumCount');
    assertProblem(await putSemaphore(name, { initialCount: -1, maximumCount: 2 }), 400, 'validation', 'body/initialCount');
    assertProblem(await putSemaphore(name, { initialCount: 3, maximumCount: 2 }), 400, 'validation', 'body/initialCount');
    assertProblem(await putSemaphore(name, { initialCount: 1.5 }), 400, 'validation', 'body/initialCount');
    assertProblem(await putSemaphore(name, { maximumCount: '2' }), 400, 'validation', 'body/maximumCount');
    assertProblem(await putSemaphore(name, { count: 1 }), 400, 'validation');
    assertProblem(await putSemaphore('Global\\a\\b'), 400, 'validation', 'params/name');
    assertProblem(await semaphore(name), 404, 'object-not-open');
  });

  it('works take one unit each; the one past maximumCount waits; DELETE is 409 while in use; the pool gives the units back', async () => {
    const name = uniqueName('sem-work');
    await putSemaphore(name, { initialCount: 2, maximumCount: 2 });
    const a = await target.api.submitOk({ semaphore: name, untilSignaled: true });
    const b = await target.api.submitOk({ semaphore: name, untilSignaled: true });
    const heldA = await untilState(a.id, 'holding');
    await untilState(b.id, 'holding');
    assert.equal(heldA.mutex, null);
    assert.deepEqual(heldA.resource, { kind: 'semaphore', name });
    assert.equal(heldA.fencingToken, null, 'a semaphore gives no fence');
    assert.equal(typeof heldA.acquisitionSeq, 'number');
    const c = await target.api.submitOk({ semaphore: name, untilSignaled: true });
    await untilState(c.id, 'waiting');
    const full = (await semaphore(name)).body;
    assert.deepEqual([full.count, full.holders.length, full.waiting], [0, 2, 1]);
    assert.deepEqual(full.holders.map((h) => h.workId).sort(), [a.id, b.id].sort());
    assertProblem(await target.api.request('DELETE', `/v1/semaphores/${enc(name)}`), 409, 'object-in-use');
    await target.api.signal(a.id);
    const doneA = await target.api.waitTerminal(a.id);
    assert.equal(doneA.state, 'released');
    assert.deepEqual(doneA.actions, ['release_semaphore']);
    await untilState(c.id, 'holding');
    await target.api.signal(b.id);
    await target.api.signal(c.id);
    await target.api.waitTerminal(b.id);
    await target.api.waitTerminal(c.id);
    const after = (await semaphore(name)).body;
    assert.deepEqual([after.count, after.holders.length, after.waiting, after.counters.acquisitions], [2, 0, 0, 3]);
    const seqs = [doneA, await (await target.api.work(b.id)).body, (await target.api.work(c.id)).body].map((w) => w.acquisitionSeq);
    assert.equal(new Set(seqs).size, 3, 'one sequence number per acquisition');
    const listed = await target.api.listAll<WorkView>(`/v1/work?semaphore=${enc(name)}`);
    assert.deepEqual(listed.map((w) => w.id), [a.id, b.id, c.id]);
    assert.equal((await target.api.request('DELETE', `/v1/semaphores/${enc(name)}`)).status, 204);
  });

  it('a work that finds no unit within acquireTimeoutMs times out and owns nothing', async () => {
    const name = uniqueName('sem-timeout');
    await putSemaphore(name, { initialCount: 0, maximumCount: 1 });
    const w = await target.api.submitOk({ semaphore: name, acquireTimeoutMs: 0 });
    const done = await target.api.waitTerminal(w.id);
    assert.equal(done.state, 'timed_out');
    const view = (await semaphore(name)).body;
    assert.deepEqual([view.count, view.counters.timeouts, view.holders.length], [0, 1, 0]);
    await target.api.request('DELETE', `/v1/semaphores/${enc(name)}`);
  });
});

describe('event objects', () => {
  it('PUT creates (201) and again is 200 existed; set and reset change the live state; DELETE is 204', async () => {
    const name = uniqueName('ev');
    const created = await putEvent(name, { manualReset: true });
    assert.equal(created.status, 201);
    assert.deepEqual([created.body.signaled, created.body.manualReset, created.body.existed], [false, true, false]);
    const again = await putEvent(name, { manualReset: false, initialState: true });
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.signaled, again.body.manualReset, again.body.existed], [false, true, true]);
    const set = await target.api.request<EventObjectView>('POST', `/v1/event-objects/${enc(name)}/set`);
    assert.equal(set.status, 200);
    assert.equal(set.body.signaled, true);
    assert.equal((await eventObject(name)).body.signaled, true);
    const reset = await target.api.request<EventObjectView>('POST', `/v1/event-objects/${enc(name)}/reset`);
    assert.deepEqual([reset.status, reset.body.signaled], [200, false]);
    assert.deepEqual([reset.body.counters.setsByApi, reset.body.counters.resetsByApi], [1, 1]);
    const listed = await target.api.listAll<EventObjectView>('/v1/event-objects');
    assert.ok(listed.some((e) => e.name === name));
    assert.equal((await target.api.request('DELETE', `/v1/event-objects/${enc(name)}`)).status, 204);
    assertProblem(await eventObject(name), 404, 'object-not-open');
    assertProblem(await target.api.request('POST', `/v1/event-objects/${enc(name)}/set`), 404, 'object-not-open');
  });

  it('initialState creates it signaled; an unknown field or a wrong type is a 400', async () => {
    const name = uniqueName('ev-init');
    assertProblem(await putEvent(name, { manualReset: 'yes' }), 400, 'validation', 'body/manualReset');
    assertProblem(await putEvent(name, { initial: true }), 400, 'validation');
    assertProblem(await eventObject(name), 404, 'object-not-open');
    const created = await putEvent(name, { initialState: true });
    assert.deepEqual([created.status, created.body.signaled, created.body.manualReset], [201, true, false]);
    await target.api.request('DELETE', `/v1/event-objects/${enc(name)}`);
  });

  it('a work that only sets an event: queued → waiting → released, the pool sets it; DELETE is 409 while it is pending', async () => {
    const name = uniqueName('ev-only');
    await putEvent(name, { manualReset: true });
    const w = await target.api.submitOk({ setEventOnReturn: name, untilSignaled: true });
    assert.deepEqual([w.resource, w.mutex, w.setEventOnReturn], [null, null, name]);
    await untilState(w.id, 'waiting');
    assertProblem(await target.api.request('DELETE', `/v1/event-objects/${enc(name)}`), 409, 'object-in-use');
    await target.api.signal(w.id);
    const done = await target.api.waitTerminal(w.id);
    assert.equal(done.state, 'released');
    assert.deepEqual(done.actions, ['set_event']);
    assert.equal(done.acquiredAt, null);
    assert.ok(done.returnedAt !== null);
    const view = (await eventObject(name)).body;
    assert.equal(view.signaled, true);
    assert.deepEqual([view.counters.setsOnReturn, view.counters.pendingSetters], [1, 0]);
    assert.equal((await target.api.request('DELETE', `/v1/event-objects/${enc(name)}`)).status, 204);
  });

  it('a setter that times out after its callback started still has the pool set the event, and it is counted', async () => {
    const sem = uniqueName('ev-timeout-sem');
    const event = uniqueName('ev-timeout-ev');
    await putSemaphore(sem, { initialCount: 0, maximumCount: 1 });
    await putEvent(event, { manualReset: true });
    const done = await target.api.waitTerminal((await target.api.submitOk({ semaphore: sem, setEventOnReturn: event, acquireTimeoutMs: 0 })).id);
    assert.equal(done.state, 'timed_out');
    const view = (await eventObject(event)).body;
    assert.equal(view.signaled, true);
    assert.deepEqual([view.counters.setsOnReturn, view.counters.pendingSetters], [1, 0]);
  });

  it('mutex + event: the pool releases the mutex, then sets the event (when the app wakes, the mutex is free)', async () => {
    const mutex = uniqueName('ev-mutex');
    const event = uniqueName('ev-mutex-ev');
    await putEvent(event, { manualReset: true });
    const done = await target.api.waitTerminal((await target.api.submitOk({ mutex, setEventOnReturn: event, holdMs: 1 })).id);
    assert.equal(done.state, 'released');
    assert.deepEqual(done.resource, { kind: 'mutex', name: mutex });
    assert.equal(done.mutex, mutex);
    assert.equal(done.fencingToken, 1);
    assert.deepEqual(done.actions, ['release_mutex', 'set_event']);
    assert.equal((await eventObject(event)).body.signaled, true);
    assert.equal((await target.api.mutex(mutex)).body.state, 'free');
  });

  it('semaphore + event: the actions follow the platform order (Windows: event, then semaphore; Wine: the reverse)', async () => {
    const sem = uniqueName('ev-sem');
    const event = uniqueName('ev-sem-ev');
    await putSemaphore(sem, { initialCount: 1, maximumCount: 1 });
    await putEvent(event);
    const done = await target.api.waitTerminal((await target.api.submitOk({ semaphore: sem, setEventOnReturn: event })).id);
    assert.equal(done.state, 'released');
    assert.deepEqual(done.actions, await wineOrder() ? ['release_semaphore', 'set_event'] : ['set_event', 'release_semaphore']);
    assert.equal((await semaphore(sem)).body.count, 1);
  });
});

describe('work bodies naming objects', () => {
  it('refuses both mutex and semaphore, none of the three, unknown fields and bad names, and queues nothing', async () => {
    const sem = uniqueName('body-sem');
    await putSemaphore(sem);
    const before = (await target.api.listAll<WorkView>('/v1/work')).length;
    assertProblem(await target.api.submit({ mutex: uniqueName('body-m'), semaphore: sem }), 400, 'validation', 'body/semaphore');
    const none = await target.api.submit({ holdMs: 1 });
    assertProblem(none, 400, 'validation', 'body/mutex');
    assert.match((none.body as unknown as Problem).detail, /at least one of mutex, semaphore or setEventOnReturn/);
    assertProblem(await target.api.submit({ semaphore: sem, units: 2 }), 400, 'validation');
    assertProblem(await target.api.submit({ semaphore: 'a\\b\\c' }), 400, 'validation', 'body/semaphore');
    assertProblem(await target.api.submit({ setEventOnReturn: '' }), 400, 'validation');
    assert.equal((await target.api.listAll<WorkView>('/v1/work')).length, before);
  });

  it('a semaphore or event object that is not open is a 404 object-not-open (they need their counts or type)', async () => {
    assertProblem(await target.api.submit({ semaphore: uniqueName('nope') }), 404, 'object-not-open');
    assertProblem(await target.api.submit({ mutex: uniqueName('m'), setEventOnReturn: uniqueName('nope') }), 404, 'object-not-open');
  });
});

describe('one namespace across kinds', () => {
  it('a name open as one kind is a 409 name-conflict as another, for PUT, work and abandon', async () => {
    const m = uniqueName('kind-m');
    const s = uniqueName('kind-s');
    const e = uniqueName('kind-e');
    assert.equal((await target.api.putMutex(m)).status, 201);
    assert.equal((await putSemaphore(s)).status, 201);
    assert.equal((await putEvent(e)).status, 201);
    assertProblem(await putSemaphore(m), 409, 'name-conflict');
    assertProblem(await putEvent(m), 409, 'name-conflict');
    assertProblem(await target.api.putMutex(s), 409, 'name-conflict');
    assertProblem(await putEvent(s), 409, 'name-conflict');
    assertProblem(await target.api.putMutex(e), 409, 'name-conflict');
    assertProblem(await putSemaphore(e), 409, 'name-conflict');
    assertProblem(await target.api.submit({ mutex: s }), 409, 'name-conflict');
    assertProblem(await abandon(e), 409, 'name-conflict');
    // The refused names opened nothing.
    assert.equal((await target.api.mutex(s)).status, 404);
    assert.equal((await semaphore(m)).status, 404);
  });
});

describe('abandonment on cue', () => {
  it('202 with a work that ends abandoned; the next acquirer gets abandoned: true', async () => {
    const name = uniqueName('abandon');
    const res = await abandon(name, { acquireTimeoutMs: 10_000 });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.headers.get('location'), `/v1/work/${enc(res.body.id)}`);
    assert.equal(res.body.operation, 'abandon');
    assert.deepEqual(res.body.resource, { kind: 'mutex', name });
    const done = await target.api.waitTerminal(res.body.id);
    assert.equal(done.state, 'abandoned');
    assert.ok(done.acquiredAt !== null && done.endedAt !== null);
    assert.equal((await target.api.mutex(name)).body.state, 'abandoned');
    const next = await target.api.waitTerminal((await target.api.submitOk({ mutex: name })).id);
    assert.equal(next.state, 'released');
    assert.equal(next.abandoned, true);
    const view = (await target.api.mutex(name)).body;
    assert.deepEqual([view.state, view.counters.abandonedAcquisitions], ['free', 1]);
    const third = await target.api.waitTerminal((await target.api.submitOk({ mutex: name })).id);
    assert.equal(third.abandoned, false, 'only the first acquirer after the abandon sees it');
  });

  it('waits for a held mutex and times out without abandoning it; a bad body is a 400', async () => {
    const name = uniqueName('abandon-held');
    const holder = await target.api.submitOk({ mutex: name, untilSignaled: true });
    await untilState(holder.id, 'holding');
    const res = await abandon(name, { acquireTimeoutMs: 0 });
    assert.equal(res.status, 202);
    assert.equal((await target.api.waitTerminal(res.body.id)).state, 'timed_out');
    assertProblem(await abandon(name, { acquireTimeoutMs: -1 }), 400, 'validation', 'body/acquireTimeoutMs');
    assertProblem(await abandon(name, { holdMs: 1 }), 400, 'validation');
    await target.api.signal(holder.id);
    assert.equal((await target.api.waitTerminal(holder.id)).state, 'released');
    assert.equal((await target.api.mutex(name)).body.state, 'free');
  });

  it('an Idempotency-Key replays the same abandon work', async () => {
    const name = uniqueName('abandon-key');
    const key = `abandon-${name}`;
    const first = await abandon(name, {}, { 'idempotency-key': key });
    const second = await abandon(name, {}, { 'idempotency-key': key });
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(second.body.id, first.body.id);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assertProblem(await abandon(name, { acquireTimeoutMs: 5 }, { 'idempotency-key': key }), 422, 'idempotency-key-reused');
    await target.api.waitTerminal(first.body.id);
    await target.api.waitTerminal((await target.api.submitOk({ mutex: name })).id);
  });
});

describe('invariants', () => {
  it('a semaphore never has more holders than maximumCount, and every work ends exactly once', async () => {
    const name = uniqueName('sem-inv');
    const maximumCount = 3;
    await putSemaphore(name, { initialCount: maximumCount, maximumCount });
    const stream = await SseClient.open(target.baseUrl, `/v1/events?mutex=${enc(name)}&after=0`);
    const works: WorkView[] = [];
    for (let i = 0; i < 16; i++) works.push(await target.api.submitOk({ semaphore: name, holdMs: 5, acquireTimeoutMs: LONG }));
    for (const w of works) assert.equal((await target.api.waitTerminal(w.id)).state, 'released');
    const ids = new Set(works.map((w) => w.id));
    const terminal = (e: { type?: string }) => ['work.released', 'work.abandoned', 'work.timed_out', 'work.cancelled', 'work.failed'].includes(e.type ?? '');
    await stream.waitFor(() => stream.events.filter((e) => terminal(e) && ids.has((e['work'] as WorkView).id)).length >= works.length, LONG, 'every terminal event');
    stream.close();
    let holders = 0;
    let most = 0;
    const ended = new Map<string, number>();
    for (const e of stream.events) {
      const w = e['work'] as WorkView | undefined;
      if (!w || !ids.has(w.id)) continue;
      if (e.type === 'work.acquired') most = Math.max(most, ++holders);
      if (e.type === 'work.released') holders--;
      if (terminal(e)) ended.set(w.id, (ended.get(w.id) ?? 0) + 1);
      assert.equal(w.invariantViolation, null);
    }
    assert.ok(most <= maximumCount, `${most} holders at once`);
    assert.ok(most >= 1);
    assert.deepEqual([...ended.values()].filter((n) => n !== 1), [], 'exactly one terminal event per work');
    assert.equal(ended.size, works.length);
    assert.equal((await semaphore(name)).body.count, maximumCount);
  });
});

describe('status and metrics', () => {
  it('/v1/status and /metrics cover the new objects', async () => {
    const sem = uniqueName('st-sem');
    const ev = uniqueName('st-ev');
    await putSemaphore(sem, { initialCount: 1, maximumCount: 2 });
    await putEvent(ev);
    const w = await target.api.submitOk({ semaphore: sem, untilSignaled: true, setEventOnReturn: ev });
    await untilState(w.id, 'holding');
    const status = (await target.api.request<{
      semaphores: { open: number; held: { name: string; holders: number; maximumCount: number }[] };
      eventObjects: { open: number; pendingSetters: number };
      works: { finished: Record<string, number> };
    }>('GET', '/v1/status')).body;
    assert.ok(status.semaphores.open >= 1);
    assert.deepEqual(status.semaphores.held.find((s) => s.name === sem), { name: sem, holders: 1, maximumCount: 2, waiting: 0, queued: 0 });
    assert.ok(status.eventObjects.open >= 1 && status.eventObjects.pendingSetters >= 1);
    assert.equal(typeof status.works.finished['abandoned'], 'number');
    await target.api.signal(w.id);
    await target.api.waitTerminal(w.id);
    const text = await target.api.metrics();
    for (const metric of ['tpmutex_semaphores_open', 'tpmutex_semaphore_holders', 'tpmutex_event_objects_open', 'tpmutex_event_object_sets_total{source="return"}', 'tpmutex_works_submitted_by_resource_total{resource="semaphore"}', 'tpmutex_works_finished_total{state="abandoned"}']) {
      assert.ok(text.includes(metric), metric);
    }
    assert.match(text, /tpmutex_event_object_sets_total\{source="return"\} [1-9]/);
  });
});
