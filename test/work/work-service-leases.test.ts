import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { toHttpProblem, type HttpProblem } from '../../src/http/problem.js';
import { createServices } from '../../src/services.js';
import { buildStatus } from '../../src/status/status.js';
import { testConfig } from '../helpers/config.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';

/** A scripted engine whose clock the test moves (leases expire on the engine clock). */
class ClockedEngine extends ScriptedEngine {
  now = 1_000_000_000n;
  override nowNs(): bigint { return this.now; }
}

function setup() {
  const engine = new ClockedEngine();
  const services = createServices(testConfig({ MAX_LEASE_MS: '10000' }), engine);
  const types: { workId: string | null; type: string }[] = [];
  services.events.subscribe((e) => types.push({ workId: e.workId, type: e.type }));
  const advance = (ms: number) => { engine.now += BigInt(ms) * 1_000_000n; mock.timers.tick(ms); };
  return { engine, services, work: services.work, types: (id: string) => types.filter((e) => e.workId === id).map((e) => e.type), advance };
}

function problemOf(fn: () => unknown): HttpProblem {
  try { fn(); } catch (err) { const problem = toHttpProblem(err); if (problem) return problem; throw err; }
  assert.fail('expected a problem');
}

describe('WorkService leases', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('refuses a lease above MAX_LEASE_MS and submits nothing', () => {
    const { engine, work } = setup();
    const problem = problemOf(() => work.submit({ mutex: 'm', leaseMs: 10_001 }, undefined));
    assert.equal(problem.status, 400);
    assert.match(JSON.stringify(problem.extra.errors), /body\/leaseMs.*MAX_LEASE_MS/);
    assert.equal(engine.submitted.length, 0);
  });

  it('a holding work whose lease runs out: lease_expired, then the engine\'s signal; recorded as expiry, not a signal', () => {
    const { engine, work, types, advance, services } = setup();
    const { work: w } = work.submit({ mutex: 'm', untilSignaled: true, leaseMs: 1000 }, undefined);
    assert.equal(w.leaseMs, 1000);
    assert.equal(BigInt(w.leaseExpiresAtNs!) - BigInt(w.queuedAtNs!), 1000n * 1_000_000n);
    engine.emit({ type: 'started', workId: w.id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'acquired', workId: w.id, threadId: 1, abandoned: false, fencingToken: 1 });
    assert.equal(buildStatus(services).leases.active, 1);
    advance(999);
    assert.deepEqual(engine.signals, []);
    advance(1);
    assert.deepEqual(engine.signals, [w.id]);
    assert.deepEqual(engine.cancels, []);
    assert.equal(work.get(w.id).leaseExpired, true);
    assert.equal(problemOf(() => work.keepalive(w.id, undefined)).slug, 'lease-expired');
    engine.emit({ type: 'returned', workId: w.id, signaled: true });
    engine.emit({ type: 'released', workId: w.id, actions: ['release_mutex'] });
    const done = work.get(w.id);
    assert.equal(done.state, 'released');
    assert.equal(done.signaled, false);
    assert.equal(done.cancelRequested, false);
    assert.deepEqual(types(w.id), ['work.queued', 'work.started', 'work.acquired', 'work.lease_expired', 'work.returned', 'work.released']);
    assert.deepEqual(buildStatus(services).leases, { active: 0, expired: 1 });
    assert.deepEqual(buildStatus(services).works.finished, { released: 1, abandoned: 0, timed_out: 0, cancelled: 0, failed: 0 });
  });

  it('a queued or waiting work whose lease runs out is cancelled through the engine', () => {
    const { engine, work, advance } = setup();
    const { work: queued } = work.submit({ mutex: 'm', leaseMs: 500 }, undefined);
    const { work: waiting } = work.submit({ mutex: 'm', leaseMs: 700 }, undefined);
    engine.emit({ type: 'started', workId: waiting.id, threadId: 2, mayRunLong: null });
    advance(500);
    assert.deepEqual(engine.cancels, [queued.id]);
    advance(200);
    assert.deepEqual(engine.cancels, [queued.id, waiting.id]);
    engine.emit({ type: 'cancelled', workId: waiting.id });
    const done = work.get(waiting.id);
    assert.equal(done.state, 'cancelled');
    assert.equal(done.leaseExpired, true);
    assert.equal(done.cancelRequested, false);
  });

  it('keepalive renews (the expiry moves), adds or changes a lease, and refuses what it cannot do', () => {
    const { engine, work, advance } = setup();
    const { work: w } = work.submit({ mutex: 'm', untilSignaled: true, leaseMs: 1000 }, undefined);
    advance(800);
    const renewed = work.keepalive(w.id, undefined);
    assert.equal(BigInt(renewed.leaseExpiresAtNs!) - BigInt(w.leaseExpiresAtNs!), 800n * 1_000_000n);
    advance(800);
    assert.deepEqual(engine.signals.concat(engine.cancels), [], 'renewed in time');
    assert.equal(work.keepalive(w.id, 5000).leaseMs, 5000);
    advance(4999);
    assert.deepEqual(engine.cancels, []);
    assert.equal(problemOf(() => work.keepalive(w.id, 10_001)).status, 400);

    const { work: plain } = work.submit({ mutex: 'n', untilSignaled: true }, undefined);
    assert.equal(plain.leaseMs, null);
    assert.equal(plain.leaseExpired, false);
    assert.equal(problemOf(() => work.keepalive(plain.id, undefined)).status, 400);
    assert.equal(work.keepalive(plain.id, 300).leaseMs, 300);
    engine.emit({ type: 'cancelled', workId: plain.id });
    const finished = problemOf(() => work.keepalive(plain.id, undefined));
    assert.equal(finished.status, 409);
    assert.equal(finished.slug, 'work-finished');
    advance(1000);
    assert.equal(engine.cancels.filter((id) => id === plain.id).length, 0, 'an ended work\'s lease is dropped');
  });

  it('a hold already returning is left to end on its own', () => {
    const { engine, work, advance, types } = setup();
    const { work: w } = work.submit({ mutex: 'm', holdMs: 10, leaseMs: 100 }, undefined);
    engine.emit({ type: 'started', workId: w.id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'acquired', workId: w.id, threadId: 1, abandoned: false, fencingToken: 1 });
    engine.emit({ type: 'returned', workId: w.id, signaled: false });
    advance(100);
    assert.deepEqual(engine.signals, []);
    assert.ok(!types(w.id).includes('work.lease_expired'));
  });
});
