/**
 * The work service with semaphores, event objects and abandonment, on a scripted
 * engine: the accounting the views show, the `acquire: none` lifecycle, the abandon
 * lifecycle, and the semaphore invariant (never more holders than maximumCount).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHttpProblem, type HttpProblem } from '../../src/http/problem.js';
import { createServices } from '../../src/services.js';
import { testConfig } from '../helpers/config.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';

function setup() {
  const engine = new ScriptedEngine();
  const violations: string[] = [];
  const services = createServices(testConfig(), engine, { onInvariantViolation: (_w, v) => violations.push(v.kind) });
  return { engine, services, work: services.work, violations };
}

function problemOf(fn: () => unknown): HttpProblem {
  try { fn(); } catch (err) { const problem = toHttpProblem(err); if (problem) return problem; throw err; }
  assert.fail('expected a problem');
}

describe('WorkService: semaphores', () => {
  it('hands the engine a semaphore acquire and keeps holders, waiting and counters in step', () => {
    const { engine, services, work } = setup();
    services.semaphores.open('Local\\s', { initialCount: 2, maximumCount: 2 });
    const a = work.submit({ semaphore: 's', untilSignaled: true }, undefined).work;
    assert.deepEqual(engine.submitted[0]!.acquire, { kind: 'semaphore', name: 'Local\\s' });
    assert.deepEqual([a.mutex, a.resource, a.setEventOnReturn], [null, { kind: 'semaphore', name: 'Local\\s' }, null]);
    const record = services.semaphores.require('Local\\s');
    assert.deepEqual([record.queued, record.unfinished], [1, 1]);
    engine.emit({ type: 'started', workId: a.id, threadId: 3, mayRunLong: null });
    assert.equal(record.waiting, 1);
    engine.emit({ type: 'acquired', workId: a.id, threadId: 3, abandoned: false, fencingToken: 7 });
    assert.deepEqual([...record.holders.keys()], [a.id]);
    const held = work.get(a.id);
    assert.deepEqual([held.state, held.fencingToken, held.acquisitionSeq], ['holding', null, 7]);
    assert.equal(problemOf(() => services.semaphores.close('Local\\s')).slug, 'object-in-use');
    engine.emit({ type: 'returned', workId: a.id, signaled: true });
    engine.emit({ type: 'released', workId: a.id, actions: ['release_semaphore'] });
    assert.deepEqual([record.holders.size, record.unfinished, record.acquisitions], [0, 0, 1]);
    assert.deepEqual(work.get(a.id).actions, ['release_semaphore']);
    services.semaphores.close('Local\\s');
    assert.equal(services.semaphores.get('Local\\s'), undefined);
  });

  it('reports an acquisition beyond maximumCount as an invariant violation', () => {
    const { engine, services, work, violations } = setup();
    services.semaphores.open('Local\\one', { initialCount: 1, maximumCount: 1 });
    const ids = [1, 2].map(() => work.submit({ semaphore: 'one', untilSignaled: true }, undefined).work.id);
    for (const [i, id] of ids.entries()) {
      engine.emit({ type: 'started', workId: id, threadId: i, mayRunLong: null });
      engine.emit({ type: 'acquired', workId: id, threadId: i, abandoned: false, fencingToken: i + 1 });
    }
    assert.deepEqual(violations, ['semaphore_over_maximum']);
    assert.equal(work.get(ids[1]!).invariantViolation?.previousWorkId, ids[0]);
  });

  it('a semaphore is never opened by a work: object-not-open, and nothing is queued', () => {
    const { engine, work } = setup();
    assert.equal(problemOf(() => work.submit({ semaphore: 'nope' }, undefined)).slug, 'object-not-open');
    assert.equal(engine.submitted.length, 0);
    assert.equal(work.unfinishedCount, 0);
  });
});

describe('WorkService: event objects', () => {
  it('a work that only sets an event goes queued → waiting → released, and the set is counted', () => {
    const { engine, services, work } = setup();
    services.eventObjects.open('Local\\e', { manualReset: true });
    const w = work.submit({ setEventOnReturn: 'e' }, undefined).work;
    assert.deepEqual(engine.submitted[0]!.acquire, { kind: 'none' });
    assert.equal(engine.submitted[0]!.setEventOnReturn, 'Local\\e');
    const record = services.eventObjects.require('Local\\e');
    assert.equal(record.pendingSetters, 1);
    assert.equal(problemOf(() => services.eventObjects.close('Local\\e')).slug, 'object-in-use');
    engine.emit({ type: 'started', workId: w.id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'returned', workId: w.id, signaled: false });
    assert.equal(work.get(w.id).state, 'waiting');
    engine.emit({ type: 'released', workId: w.id, actions: ['set_event'] });
    const done = work.get(w.id);
    assert.deepEqual([done.state, done.acquiredAt, done.actions], ['released', null, ['set_event']]);
    assert.deepEqual([record.pendingSetters, record.setsOnReturn], [0, 1]);
  });

  it('counts the set of a setter that timed out or was cancelled after its callback started, not of one cancelled while queued', async () => {
    const { engine, services, work } = setup();
    services.eventObjects.open('Local\\e3', {});
    services.semaphores.open('Local\\none', { initialCount: 0, maximumCount: 1 });
    const timedOut = work.submit({ semaphore: 'none', setEventOnReturn: 'e3', acquireTimeoutMs: 0 }, undefined).work;
    const cancelled = work.submit({ mutex: 'm3', setEventOnReturn: 'e3' }, undefined).work;
    const neverStarted = work.submit({ mutex: 'm3', setEventOnReturn: 'e3' }, undefined).work;
    engine.emit({ type: 'started', workId: timedOut.id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'timed_out', workId: timedOut.id });
    engine.emit({ type: 'started', workId: cancelled.id, threadId: 2, mayRunLong: null });
    engine.emit({ type: 'cancelled', workId: cancelled.id });
    engine.emit({ type: 'cancelled', workId: neverStarted.id });
    const record = services.eventObjects.require('Local\\e3');
    assert.deepEqual([record.setsOnReturn, record.pendingSetters], [2, 0]);
    const metrics = await services.metrics.registry.getSingleMetricAsString('tpmutex_event_object_sets_total');
    assert.match(metrics, /source="return"\} 2$/m);
  });

  it('an acquired phase for a work that acquires nothing is dropped', () => {
    const { engine, services, work } = setup();
    services.eventObjects.open('Local\\e2', {});
    const w = work.submit({ setEventOnReturn: 'e2' }, undefined).work;
    engine.emit({ type: 'started', workId: w.id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'released', workId: w.id, actions: ['set_event'] });
    assert.equal(work.get(w.id).state, 'waiting', 'released before returned does not fit');
  });
});

describe('WorkService: abandonment on cue', () => {
  it('calls engine.abandon, ends abandoned and leaves the mutex without a holder', () => {
    const { engine, services, work } = setup();
    const w = work.abandon('Local\\m', { acquireTimeoutMs: 5 }, undefined).work;
    assert.deepEqual(engine.abandons, [{ workId: w.id, mutex: 'Local\\m', acquireTimeoutMs: 5 }]);
    assert.equal(engine.submitted.length, 0);
    assert.equal(w.operation, 'abandon');
    engine.emit({ type: 'started', workId: w.id, threadId: 9, mayRunLong: null });
    engine.emit({ type: 'acquired', workId: w.id, threadId: 9, abandoned: false, fencingToken: 1 });
    assert.equal(services.mutexes.require('Local\\m').holder?.workId, w.id);
    engine.emit({ type: 'abandoned', workId: w.id });
    const done = work.get(w.id);
    assert.equal(done.state, 'abandoned');
    assert.ok(done.endedAt !== null);
    assert.equal(services.mutexes.require('Local\\m').holder, null);
    assert.equal(work.unfinishedCount, 0);
  });

  it('an Idempotency-Key replays the same abandon and refuses another body', () => {
    const { work } = setup();
    const first = work.abandon('Local\\k', {}, 'key').work;
    assert.equal(work.abandon('Local\\k', {}, 'key').work.id, first.id);
    assert.equal(problemOf(() => work.abandon('Local\\k', { acquireTimeoutMs: 1 }, 'key')).slug, 'idempotency-key-reused');
    assert.equal(problemOf(() => work.submit({ mutex: 'Local\\k' }, 'key')).slug, 'idempotency-key-reused');
  });
});

describe('semaphores and event objects alike', () => {
  it('a bad PUT body, the open limit, not open and alias spellings go the same way for both kinds', () => {
    const engine = new ScriptedEngine();
    const services = createServices(testConfig({ MAX_SEMAPHORES: '1', MAX_EVENT_OBJECTS: '1' }), engine);
    for (const [registry, setting] of [[services.semaphores, 'MAX_SEMAPHORES'], [services.eventObjects, 'MAX_EVENT_OBJECTS']] as const) {
      assert.equal(registry.open('Local\\a', {}).created, true);
      assert.equal(registry.open('Local\\a', {}).created, false, 'already open');
      const limited = problemOf(() => registry.open('Local\\b', {}));
      assert.deepEqual([limited.status, limited.extra.limit], [429, setting]);
      assert.equal(problemOf(() => registry.require('Local\\b')).slug, 'object-not-open');
      registry.close('Local\\a');
      assert.equal(registry.size, 0);
    }
    assert.equal(problemOf(() => services.semaphores.open('Local\\c', { maximumCount: 0 })).slug, 'validation');
  });
});

describe('one namespace across kinds', () => {
  it('the registries refuse a name open as another kind before asking the engine', () => {
    const { services } = setup();
    services.mutexes.open('Local\\x');
    services.semaphores.open('Local\\y', {});
    assert.equal(problemOf(() => services.semaphores.open('Local\\x', {})).slug, 'name-conflict');
    assert.equal(problemOf(() => services.eventObjects.open('Local\\y', {})).slug, 'name-conflict');
    assert.equal(problemOf(() => services.mutexes.open('Local\\y')).slug, 'name-conflict');
  });
});
