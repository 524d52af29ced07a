import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHttpProblem, type HttpProblem } from '../../src/http/problem.js';
import { createServices } from '../../src/services.js';
import type { WorkView } from '../../src/schemas/work.js';
import { assertMutualExclusion } from '../e2e/checks.js';
import { testConfig } from '../helpers/config.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { parseSseBlock } from '../helpers/sse-frames.js';

interface Published { type: string; workId: string | null; work?: WorkView; json: Record<string, unknown> & { type: string } }

function setup(env: Record<string, string> = {}, hooks: Parameters<typeof createServices>[2] = {}) {
  const engine = new ScriptedEngine();
  const services = createServices(testConfig(env), engine, hooks);
  const events: Published[] = [];
  services.events.subscribe((e) => {
    const json = parseSseBlock(e.frame).frame!.json as Published['json'] & { work?: WorkView };
    events.push({ type: e.type, workId: e.workId, json, ...(json.work ? { work: json.work } : {}) });
  });
  return { engine, services, work: services.work, events };
}

const violationsOf = (events: Published[]) => events.filter((e) => e.work?.invariantViolation)
  .map((e) => ({ workId: e.workId, kind: e.work!.invariantViolation!.kind }));

/** What the service threw, as the HTTP layer answers it. */
function problemOf(fn: () => unknown): HttpProblem {
  try { fn(); } catch (err) { const problem = toHttpProblem(err); if (problem) return problem; throw err; }
  assert.fail('expected a problem');
}

const runToHolding = (engine: ScriptedEngine, id: string, fencingToken: number) => {
  engine.emit({ type: 'started', workId: id, threadId: 7, mayRunLong: null });
  engine.emit({ type: 'acquired', workId: id, threadId: 7, abandoned: false, fencingToken });
};

describe('WorkService', () => {
  it('queues a work, opens its mutex on first use and hands the engine the resolved request', () => {
    const { engine, work, services, events } = setup({ MAX_HOLD_MS: '5000' });
    const { work: w, replayed } = work.submit({ mutex: 'm', untilSignaled: true }, undefined);
    assert.equal(replayed, false);
    assert.equal(w.state, 'queued');
    assert.equal(w.mutex, 'Local\\m');
    assert.deepEqual(w.request, { acquireTimeoutMs: 30000, holdMs: 0, untilSignaled: true, spinMs: 0, mayRunLong: false, leaseMs: null });
    assert.deepEqual(engine.submitted[0], { workId: w.id, acquire: { kind: 'mutex', name: 'Local\\m' }, setEventOnReturn: null, acquireTimeoutMs: 30000, spinMs: 0, holdMs: 5000, mayRunLong: false });
    assert.deepEqual(events.map((e) => e.type), ['mutex.opened', 'work.queued']);
    assert.equal(services.mutexes.get('Local\\m')?.queued, 1);
  });

  it('walks the lifecycle and keeps the mutex view in step', () => {
    const { engine, work, services, events } = setup();
    const { work: w } = work.submit({ mutex: 'Global\\g', holdMs: 10 }, undefined);
    runToHolding(engine, w.id, 1);
    const mutex = services.mutexes.view(services.mutexes.require('Global\\g'));
    assert.equal(mutex.holder?.workId, w.id);
    assert.equal(mutex.fencingToken, 1);
    engine.emit({ type: 'returned', workId: w.id, signaled: false });
    engine.emit({ type: 'released', actions: ['release_mutex'], workId: w.id });
    const done = work.get(w.id);
    assert.equal(done.state, 'released');
    assert.equal(done.fencingToken, 1);
    assert.equal(done.threadId, 7);
    assert.ok(BigInt(done.acquiredAtNs!) < BigInt(done.releasedAtNs!));
    assert.equal(done.endedAtNs, done.releasedAtNs);
    assert.deepEqual(events.filter((e) => e.workId === w.id).map((e) => e.type),
      ['work.queued', 'work.started', 'work.acquired', 'work.returned', 'work.released']);
    const after = services.mutexes.view(services.mutexes.require('Global\\g'));
    assert.equal(after.holder, null);
    assert.equal(after.counters.acquisitions, 1);
    assert.equal(work.unfinishedCount, 0);
  });

  it('publishes the phases in the order the engine delivers them: released(prev), then acquired(next)', () => {
    const { engine, work, events } = setup();
    const a = work.submit({ mutex: 'm' }, undefined).work;
    const b = work.submit({ mutex: 'm', holdMs: 1 }, undefined).work;
    runToHolding(engine, a.id, 1);
    engine.emit({ type: 'started', workId: b.id, threadId: 8, mayRunLong: null });
    engine.emit({ type: 'returned', workId: a.id, signaled: false, atNs: 40_000n });
    engine.emit({ type: 'released', actions: ['release_mutex'], workId: a.id, atNs: 45_000n });
    engine.emit({ type: 'acquired', workId: b.id, threadId: 8, abandoned: false, fencingToken: 2, atNs: 50_000n });
    engine.emit({ type: 'returned', workId: b.id, signaled: false, atNs: 70_000n });
    engine.emit({ type: 'released', actions: ['release_mutex'], workId: b.id, atNs: 80_000n });
    const order = events.filter((e) => e.type === 'work.acquired' || e.type === 'work.released' || e.type === 'work.returned')
      .map((e) => `${e.type}:${e.workId === a.id ? 'a' : 'b'}`);
    assert.deepEqual(order, ['work.acquired:a', 'work.returned:a', 'work.released:a', 'work.acquired:b', 'work.returned:b', 'work.released:b']);
    assert.equal(work.get(a.id).releasedAtNs, '45000', "the engine's own release stamp, not one made up");
    assert.equal(work.get(b.id).state, 'released');
    assert.equal(violationsOf(events).length, 0);
    assert.equal(assertMutualExclusion(events.map((e) => e.json)).acquisitions, 2);
  });

  it('reorders nothing: acquired(next) delivered before released(prev) is reported as a broken engine contract', () => {
    const { engine, work, events } = setup();
    const a = work.submit({ mutex: 'm' }, undefined).work;
    const b = work.submit({ mutex: 'm' }, undefined).work;
    runToHolding(engine, a.id, 1);
    engine.emit({ type: 'started', workId: b.id, threadId: 8, mayRunLong: null });
    engine.emit({ type: 'returned', workId: a.id, signaled: false, atNs: 40_000n });
    engine.emit({ type: 'acquired', workId: b.id, threadId: 8, abandoned: false, fencingToken: 2, atNs: 50_000n });
    engine.emit({ type: 'released', actions: ['release_mutex'], workId: a.id, atNs: 45_000n });
    const order = events.filter((e) => ['work.acquired', 'work.returned', 'work.released'].includes(e.type))
      .map((e) => `${e.type.slice(5)}:${e.workId === a.id ? 'a' : 'b'}`);
    assert.deepEqual(order, ['acquired:a', 'returned:a', 'acquired:b', 'released:a'], 'published as delivered');
    const acquiredB = events.find((e) => e.type === 'work.acquired' && e.workId === b.id)!;
    assert.equal(acquiredB.work!.invariantViolation?.kind, 'acquired_while_held');
    assert.match(acquiredB.work!.invariantViolation!.detail, /had returned but was not reported released/);
    assert.throws(() => assertMutualExclusion(events.map((e) => e.json)), /acquired while/);
  });

  it('reports acquired(next) while the holder has not returned, invents no phase, and publishes what the engine said', async () => {
    const seen: string[] = [];
    const { engine, work, events, services } = setup({}, { onInvariantViolation: (w, v) => seen.push(`${w.id}:${v.kind}`) });
    const a = work.submit({ mutex: 'm' }, undefined).work;
    const b = work.submit({ mutex: 'm' }, undefined).work;
    runToHolding(engine, a.id, 1);
    engine.emit({ type: 'started', workId: b.id, threadId: 8, mayRunLong: null });
    engine.emit({ type: 'acquired', workId: b.id, threadId: 8, abandoned: false, fencingToken: 2, atNs: 50_000n });
    assert.deepEqual(events.filter((e) => e.workId === a.id).map((e) => e.type), ['work.queued', 'work.started', 'work.acquired'],
      'no returned or released of a was made up');
    const acquiredB = events.find((e) => e.type === 'work.acquired' && e.workId === b.id)!;
    assert.equal(acquiredB.work!.invariantViolation?.kind, 'acquired_while_held');
    assert.equal(acquiredB.work!.invariantViolation?.previousWorkId, a.id);
    assert.deepEqual(seen, [`${b.id}:acquired_while_held`]);
    assert.match(await services.metrics.registry.getSingleMetricAsString('tpmutex_invariant_violations_total'),
      /tpmutex_invariant_violations_total\{kind="acquired_while_held"\} 1/);
    // The real phases of a still arrive and are published as they are.
    engine.emit({ type: 'returned', workId: a.id, signaled: false, atNs: 60_000n });
    engine.emit({ type: 'released', actions: ['release_mutex'], workId: a.id, atNs: 61_000n });
    assert.equal(work.get(a.id).releasedAtNs, '61000');
    assert.equal(work.get(a.id).state, 'released');
    assert.throws(() => assertMutualExclusion(events.map((e) => e.json)), /acquired while/);
  });

  it('reports an acquisition stamped before the previous release', async () => {
    const { engine, work, events, services } = setup();
    const a = work.submit({ mutex: 'm' }, undefined).work;
    const b = work.submit({ mutex: 'm' }, undefined).work;
    runToHolding(engine, a.id, 1);
    engine.emit({ type: 'started', workId: b.id, threadId: 8, mayRunLong: null });
    engine.emit({ type: 'returned', workId: a.id, signaled: false, atNs: 40_000n });
    engine.emit({ type: 'released', actions: ['release_mutex'], workId: a.id, atNs: 60_000n });
    engine.emit({ type: 'acquired', workId: b.id, threadId: 8, abandoned: false, fencingToken: 2, atNs: 50_000n });
    assert.deepEqual(violationsOf(events), [{ workId: b.id, kind: 'released_after_acquired' }]);
    assert.match(await services.metrics.registry.getSingleMetricAsString('tpmutex_invariant_violations_total'),
      /tpmutex_invariant_violations_total\{kind="released_after_acquired"\} 1/);
    assert.throws(() => assertMutualExclusion(events.map((e) => e.json)), /released_after_acquired/);
  });

  it('a holder that never reports released, and its waiter, each end exactly once at shutdown', async () => {
    const { engine, work, events } = setup();
    const a = work.submit({ mutex: 'm' }, undefined).work;
    const b = work.submit({ mutex: 'm' }, undefined).work;
    runToHolding(engine, a.id, 1);
    engine.emit({ type: 'started', workId: b.id, threadId: 8, mayRunLong: null });
    engine.emit({ type: 'returned', workId: a.id, signaled: false });
    await work.shutdown(10);
    const ends = events.filter((e) => /^work\.(acquired|released|failed)$/.test(e.type)).map((e) => `${e.type}:${e.workId === a.id ? 'a' : 'b'}`);
    assert.deepEqual(ends.sort(), ['work.acquired:a', 'work.failed:a', 'work.failed:b']);
    assert.equal(work.unfinishedCount, 0);
  });

  it('rejects bad input listing every bad field, and changes nothing', () => {
    const { engine, work, services, events } = setup({ MAX_HOLD_MS: '1000', MAX_LABEL_LENGTH: '3' });
    const problem = problemOf(() => work.submit({ mutex: 'a\\b', holdMs: 1001, label: 'long' }, undefined));
    assert.equal(problem.status, 400);
    assert.deepEqual(problem.extra.errors?.map((e) => e.field).sort(), ['body/holdMs', 'body/label', 'body/mutex']);
    assert.equal(engine.submitted.length, 0);
    assert.equal(services.mutexes.size, 0);
    assert.equal(events.length, 0);
  });

  it('honours Idempotency-Key: same request → same work; other request → 422', () => {
    const { engine, work } = setup();
    const first = work.submit({ mutex: 'm', holdMs: 5 }, 'key-1');
    const again = work.submit({ holdMs: 5, mutex: 'Local\\m' }, 'key-1');
    assert.equal(again.replayed, true);
    assert.equal(again.work.id, first.work.id);
    assert.equal(engine.submitted.length, 1);
    const problem = problemOf(() => work.submit({ mutex: 'm', holdMs: 6 }, 'key-1'));
    assert.equal(problem.status, 422);
    assert.equal(engine.submitted.length, 1);
  });

  it('enforces MAX_QUEUED_WORK and MAX_QUEUED_WORK_PER_MUTEX with 429 and changes nothing', () => {
    const { engine, work } = setup({ MAX_QUEUED_WORK: '3', MAX_QUEUED_WORK_PER_MUTEX: '2' });
    work.submit({ mutex: 'a' }, undefined);
    work.submit({ mutex: 'a' }, undefined);
    const perMutex = problemOf(() => work.submit({ mutex: 'a' }, undefined));
    assert.equal(perMutex.status, 429);
    assert.equal(perMutex.extra.limit, 'MAX_QUEUED_WORK_PER_MUTEX');
    work.submit({ mutex: 'b' }, undefined);
    const total = problemOf(() => work.submit({ mutex: 'c' }, undefined));
    assert.equal(total.extra.limit, 'MAX_QUEUED_WORK');
    assert.equal(engine.submitted.length, 3);
  });

  it('evicts the oldest finished works beyond WORK_HISTORY and says so on lookup', () => {
    const { engine, work } = setup({ WORK_HISTORY: '2' });
    const ids = [0, 1, 2].map(() => work.submit({ mutex: 'm', acquireTimeoutMs: 0 }, 'k').work.id);
    assert.equal(new Set(ids).size, 1, 'same key → same work');
    const fresh = [0, 1, 2].map((i) => work.submit({ mutex: 'm', acquireTimeoutMs: 0 }, `k${i}`).work.id);
    for (const id of [ids[0]!, ...fresh]) {
      engine.emit({ type: 'started', workId: id, threadId: 1, mayRunLong: null });
      engine.emit({ type: 'timed_out', workId: id });
    }
    assert.equal(work.retainedCount, 2);
    const evicted = problemOf(() => work.get(ids[0]!));
    assert.equal(evicted.status, 404);
    assert.equal(evicted.slug, 'work-evicted');
    assert.equal(problemOf(() => work.get('nope')).slug, 'work-not-found');
    // The evicted work's idempotency key is free again.
    assert.equal(work.submit({ mutex: 'm', acquireTimeoutMs: 0 }, 'k').replayed, false);
  });

  it('signal and cancel reach the engine, and are 409 once the work is terminal', () => {
    const { engine, work } = setup();
    const { work: w } = work.submit({ mutex: 'm' }, undefined);
    work.signal(w.id);
    assert.equal(work.cancel(w.id).cancelRequested, true);
    assert.deepEqual(engine.signals, [w.id]);
    assert.deepEqual(engine.cancels, [w.id]);
    engine.emit({ type: 'cancelled', workId: w.id });
    assert.equal(problemOf(() => work.signal(w.id)).status, 409);
    assert.equal(problemOf(() => work.cancel(w.id)).status, 409);
  });

  it('refuses to close a mutex with unfinished work', () => {
    const { engine, work, services } = setup();
    const { work: w } = work.submit({ mutex: 'm' }, undefined);
    assert.equal(problemOf(() => services.mutexes.close('Local\\m')).status, 409);
    engine.emit({ type: 'cancelled', workId: w.id });
    assert.equal(services.mutexes.close('Local\\m').name, 'Local\\m');
    assert.equal(engine.open.size, 0);
  });

  it('long-poll resolves when the work turns terminal, after its terminal event', async () => {
    const { engine, work, events } = setup();
    const { work: w } = work.submit({ mutex: 'm', acquireTimeoutMs: 0 }, undefined);
    const waiting = work.waitTerminal(w.id, 60_000);
    engine.emit({ type: 'started', workId: w.id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'timed_out', workId: w.id });
    const done = await waiting;
    assert.equal(done.state, 'timed_out');
    assert.equal(events.at(-1)?.type, 'work.timed_out');
  });

  it('long-poll returns the work as it is at the timeout', async () => {
    const { work } = setup();
    const { work: w } = work.submit({ mutex: 'm' }, undefined);
    assert.equal((await work.waitTerminal(w.id, 1)).state, 'queued');
  });

  it('shutdown refuses new work and ends every unfinished work', async () => {
    const { work } = setup();
    const { work: w } = work.submit({ mutex: 'm' }, undefined);
    await work.shutdown(100);
    assert.equal(work.get(w.id).state, 'failed');
    assert.equal(problemOf(() => work.submit({ mutex: 'm' }, undefined)).status, 503);
  });
});
