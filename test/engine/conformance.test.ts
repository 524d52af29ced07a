/**
 * The engine conformance suite: one set of tests, run against every engine this platform
 * has (factories.ts), covering the contract in src/engine/types.ts and the invariants of
 * docs/design.md §4. Tests synchronise on phases, never on sleeps; timing bounds are loose
 * enough for a loaded 2-core machine.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTerminalPhase, type PoolLimits, type WorkSpec } from '../../src/engine/types.js';
import { MAX_WORK_TIME_MS } from '../../src/engine/work-times.js';
import { engineFactories } from './factories.js';
import { assertEngineError, EngineHarness, HOLD_UNTIL_SIGNALED_MS, msBetween, WAIT_TIMEOUT_MS } from './harness.js';
import { mutualExclusionViolations } from './mutual-exclusion.js';

/** Timers may fire a little early on some platforms (Windows ticks); this much is tolerated. */
const EARLY_TOLERANCE = 0.9;

/** A small deterministic PRNG (mulberry32), so a failing stress run can be replayed. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

for (const factory of engineFactories) {
  describe(`engine conformance: ${factory.kind}`, () => {
    const open = (t: Parameters<typeof EngineHarness.open>[0], pool: PoolLimits = { minThreads: 1, maxThreads: 4 }): Promise<EngineHarness> =>
      EngineHarness.open(t, factory, pool);

    it('describes itself and has a monotonic nanosecond clock', async (t) => {
      const h = await open(t);
      const { info } = h.engine;
      assert.equal(info.kind, factory.kind);
      assert.ok(info.nameScope === 'os' || info.nameScope === 'process');
      assert.ok(info.clock.length > 0);
      const first = h.engine.nowNs();
      const second = h.engine.nowNs();
      assert.equal(typeof first, 'bigint');
      assert.ok(second >= first);
    });

    it('openMutex says whether the name existed; closeMutex closes it', async (t) => {
      const h = await open(t);
      const name = h.openMutex('existed');
      const again = h.call(() => h.engine.openMutex(name));
      assert.equal(again.existed, true);
      assert.deepEqual(h.engine.probeMutex(name), { state: 'free', recursion: 0 });
      h.engine.closeMutex(name);
      assertEngineError(() => h.engine.probeMutex(name), 'mutex_not_open');
      assertEngineError(() => h.engine.submit({ workId: 'x1', acquire: { kind: 'mutex', name: name }, setEventOnReturn: null, acquireTimeoutMs: 0, spinMs: 0, holdMs: 0, mayRunLong: false }), 'mutex_not_open');
      assertEngineError(() => h.engine.closeMutex(name), 'mutex_not_open');
      // Nobody else had a handle, so closing destroyed it: reopening creates it again.
      assert.equal(h.engine.openMutex(name).existed, false);
      h.engine.closeMutex(name);
    });

    it('kernel names: a bare name is Local\\, Global\\ is \\BaseNamedObjects (one object with Local\\ only in session 0)', async (t) => {
      const h = await open(t);
      const bare = h.freshName('kernel');
      const local = h.call(() => h.engine.openMutex(`Local\\${bare}`));
      const plain = h.call(() => h.engine.openMutex(bare));
      const global = h.call(() => h.engine.openMutex(`Global\\${bare}`));
      assert.equal(local.existed, false);
      assert.equal(global.kernelName, `\\BaseNamedObjects\\${bare}`);
      assert.equal(plain.kernelName, local.kernelName, 'a bare name is the Local\\ one');
      assert.equal(plain.existed, true);
      const session = /^\\Sessions\\(\d+)\\BaseNamedObjects\\/.exec(local.kernelName);
      if (session === null) {
        // Session 0 (a service): the session namespace is the global one.
        assert.equal(local.kernelName, global.kernelName);
        assert.equal(global.existed, true);
      } else {
        assert.equal(local.kernelName, `${session[0]}${bare}`);
        assert.equal(global.existed, false, 'another object outside session 0');
      }
      for (const name of [`Local\\${bare}`, bare, `Global\\${bare}`]) h.engine.closeMutex(name);
    });

    it('two names of one object are one mutex: one state, one fencing sequence; closing one keeps the other', async (t) => {
      const h = await open(t);
      const bare = h.freshName('alias');
      const local = `Local\\${bare}`;
      h.call(() => h.engine.openMutex(local));
      assert.equal(h.call(() => h.engine.openMutex(bare)).existed, true);
      const first = h.submit({ mutex: local, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(first, 'acquired');
      assert.deepEqual(h.engine.probeMutex(bare), { state: 'held', recursion: 1 }, 'held under either name');
      const second = h.submit({ mutex: bare, acquireTimeoutMs: 0 });
      assert.equal((await h.waitTerminal([second]))[0]?.type, 'timed_out', 'the other name is the same mutex');
      h.signal(first);
      await h.waitTerminal([first]);
      h.engine.closeMutex(local);
      const third = h.submit({ mutex: bare });
      await h.waitTerminal([third]);
      assert.equal(h.expectPhase(third, 'acquired').fencingToken, h.expectPhase(first, 'acquired').fencingToken + 1);
      h.engine.closeMutex(bare);
      assertEngineError(() => h.engine.probeMutex(bare), 'mutex_not_open');
      h.assertClean();
    });

    it('fencing tokens never go backwards: closing and reopening a name continues the sequence', async (t) => {
      const h = await open(t);
      const bare = h.freshName('fence');
      const name = `Local\\${bare}`;
      h.call(() => h.engine.openMutex(name));
      const one = h.submit({ mutex: name });
      await h.waitTerminal([one]);
      h.engine.closeMutex(name);
      assert.equal(h.call(() => h.engine.openMutex(name)).existed, false, 'closing the last handle destroyed the object');
      const two = h.submit({ mutex: name });
      await h.waitTerminal([two]);
      h.engine.closeMutex(name);
      // Reopened under another spelling of the same kernel name: still the same sequence.
      h.call(() => h.engine.openMutex(bare));
      const three = h.submit({ mutex: bare });
      await h.waitTerminal([three]);
      const tokens = [one, two, three].map((id) => h.expectPhase(id, 'acquired').fencingToken);
      assert.deepEqual(tokens, [1, 2, 3]);
      h.engine.closeMutex(bare);
      h.assertClean();
    });

    it('rejects the names Windows rejects, with name_invalid, before anything else', async (t) => {
      const h = await open(t);
      for (const bad of ['Local\\a\\b', 'Global\\', 'Local\\', '', 'a\\b', `Local\\${'x'.repeat(260)}`, 'Local\\a\u0000b']) {
        assertEngineError(() => h.engine.openMutex(bad), 'name_invalid');
      }
      const longest = `Local\\${h.freshName('l').padEnd(260 - 'Local\\'.length, 'x')}`;
      assert.equal(longest.length, 260);
      assert.equal(h.call(() => h.engine.openMutex(longest)).existed, false, '260 characters are allowed');
      h.engine.closeMutex(longest);
    });

    it('times: whole ms from 0 to MAX_WORK_TIME_MS; anything else is a RangeError and nothing is recorded', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('times');
      const base: WorkSpec = { workId: 'times', acquire: { kind: 'mutex', name: mutex }, setEventOnReturn: null, acquireTimeoutMs: 0, spinMs: 0, holdMs: 0, mayRunLong: false };
      for (const field of ['acquireTimeoutMs', 'spinMs', 'holdMs'] as const) {
        for (const bad of [Number.NaN, -1, 1.5, Infinity, -Infinity, MAX_WORK_TIME_MS + 1]) {
          assert.throws(() => h.engine.submit({ ...base, [field]: bad }), RangeError, `${field} ${bad}`);
        }
      }
      assert.equal(h.engine.poolStats().submitted, 0, 'a refused submit leaves no trace');
      // The largest time is a real, finite bound that a signal ends.
      const longest = h.submit({ mutex, acquireTimeoutMs: MAX_WORK_TIME_MS, holdMs: MAX_WORK_TIME_MS });
      await h.waitPhase(longest, 'acquired');
      h.signal(longest);
      await h.waitTerminal([longest]);
      assert.equal(h.expectPhase(longest, 'returned').signaled, true);
      h.assertClean();
    });

    it('signal and cancel ignore unknown and finished work ids; a reused unfinished id is refused', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 1 });
      h.signal('unknown');
      h.cancel('unknown');
      const done = h.submit({ mutex: h.openMutex('done') });
      await h.waitTerminal([done]);
      h.signal(done);
      h.cancel(done);
      // A later work on the same thread must not see the stale signal or cancel.
      const next = h.submit({ mutex: h.openMutex('next'), holdMs: 50 });
      await h.waitTerminal([next]);
      assert.deepEqual(h.typesOf(next), ['started', 'acquired', 'returned', 'released']);
      assert.equal(h.expectPhase(next, 'returned').signaled, false);

      const mutex = h.openMutex('reused');
      const holding = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holding, 'acquired');
      assert.throws(() => h.engine.submit({ workId: holding, acquire: { kind: 'mutex', name: mutex }, setEventOnReturn: null, acquireTimeoutMs: 0, spinMs: 0, holdMs: 0, mayRunLong: false }), Error);
      h.signal(holding);
      await h.waitTerminal([holding]);
      h.assertClean();
    });

    it('probe: free, held with recursion 1 while a callback owns it, free after released', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('probe');
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'free', recursion: 0 });
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'held', recursion: 1 });
      h.signal(holder);
      await h.waitPhase(holder, 'released');
      // `released` means the mutex is really free of the work.
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'free', recursion: 0 });
      h.assertClean();
    });

    it('one work: started → acquired → returned → released, hold honoured', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('hold');
      const holdMs = 150;
      const id = h.submit({ mutex, holdMs });
      await h.waitTerminal([id]);
      assert.deepEqual(h.typesOf(id), ['started', 'acquired', 'returned', 'released']);
      const started = h.expectPhase(id, 'started');
      const acquired = h.expectPhase(id, 'acquired');
      const returned = h.expectPhase(id, 'returned');
      const released = h.expectPhase(id, 'released');
      assert.ok(Number.isInteger(started.threadId) && started.threadId > 0);
      assert.equal(started.mayRunLong, null, 'mayRunLong not asked');
      assert.equal(acquired.abandoned, false);
      assert.ok(acquired.fencingToken >= 1);
      assert.equal(returned.signaled, false);
      const heldMs = msBetween(acquired.atNs, returned.atNs);
      assert.ok(heldMs >= holdMs * EARLY_TOLERANCE, `held ${heldMs} ms, asked ${holdMs}`);
      assert.ok(msBetween(acquired.atNs, released.atNs) >= holdMs * EARLY_TOLERANCE);
      assert.ok(heldMs < holdMs + WAIT_TIMEOUT_MS);
      h.assertClean();
    });

    it('spin runs for spinMs, and a signal ends a long spin', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('spin');
      const spinMs = 60;
      const short = h.submit({ mutex, spinMs });
      await h.waitTerminal([short]);
      const spun = msBetween(h.expectPhase(short, 'acquired').atNs, h.expectPhase(short, 'returned').atNs);
      assert.ok(spun >= spinMs * EARLY_TOLERANCE, `spun ${spun} ms, asked ${spinMs}`);
      assert.equal(h.expectPhase(short, 'returned').signaled, false);

      const long = h.submit({ mutex, spinMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(long, 'acquired');
      h.signal(long);
      await h.waitTerminal([long]);
      assert.equal(h.expectPhase(long, 'returned').signaled, true);
      assert.equal(h.terminalOf(long)?.type, 'released');
      h.assertClean();
    });

    it('try once (acquireTimeoutMs 0) on a held mutex times out at once', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('try-once');
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      const tryer = h.submit({ mutex, acquireTimeoutMs: 0 });
      const [ended] = await h.waitTerminal([tryer]);
      assert.equal(ended?.type, 'timed_out');
      assert.deepEqual(h.typesOf(tryer), ['started', 'timed_out']);
      // "At once": far below any timeout a user would set; generous for a loaded box.
      assert.ok(msBetween(h.expectPhase(tryer, 'started').atNs, h.expectPhase(tryer, 'timed_out').atNs) < 5_000);
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'held', recursion: 1 }, 'the holder keeps it');
      h.signal(holder);
      await h.waitTerminal([holder]);
      // Try once on a free mutex acquires.
      const lucky = h.submit({ mutex, acquireTimeoutMs: 0 });
      const [luckyEnd] = await h.waitTerminal([lucky]);
      assert.equal(luckyEnd?.type, 'released');
      h.assertClean();
    });

    it('a 200 ms acquire timeout is honoured', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('timeout');
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      const timeoutMs = 200;
      const waiter = h.submit({ mutex, acquireTimeoutMs: timeoutMs });
      const [ended] = await h.waitTerminal([waiter]);
      assert.equal(ended?.type, 'timed_out');
      const waited = msBetween(h.expectPhase(waiter, 'started').atNs, h.expectPhase(waiter, 'timed_out').atNs);
      assert.ok(waited >= timeoutMs * EARLY_TOLERANCE, `waited ${waited} ms for a ${timeoutMs} ms timeout`);
      assert.ok(waited < timeoutMs + 10_000, `waited ${waited} ms for a ${timeoutMs} ms timeout`);
      assert.equal(h.phase(waiter, 'acquired'), undefined);
      h.signal(holder);
      await h.waitTerminal([holder]);
      h.assertClean();
    });

    it('a signal ends a long hold', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('signal');
      const id = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      const acquired = await h.waitPhase(id, 'acquired');
      h.signal(id);
      await h.waitTerminal([id]);
      const returned = h.expectPhase(id, 'returned');
      assert.equal(returned.signaled, true);
      assert.ok(msBetween(acquired.atNs, returned.atNs) < WAIT_TIMEOUT_MS);
      assert.equal(h.terminalOf(id)?.type, 'released');
      h.assertClean();
    });

    it('a signal while waiting is kept: the hold ends as soon as the mutex is acquired', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('early-signal');
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      const waiter = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(waiter, 'started');
      h.signal(waiter);
      h.signal(holder);
      await h.waitTerminal([holder, waiter]);
      assert.deepEqual(h.typesOf(waiter), ['started', 'acquired', 'returned', 'released']);
      assert.equal(h.expectPhase(waiter, 'returned').signaled, true);
      h.assertClean();
    });

    it('a signal while queued is kept', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 1 });
      const busy = h.submit({ mutex: h.openMutex('busy'), holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(busy, 'acquired');
      const queued = h.submit({ mutex: h.openMutex('queued'), holdMs: HOLD_UNTIL_SIGNALED_MS });
      assert.ok(h.engine.poolStats().queued >= 1, 'one thread, and it is busy');
      h.signal(queued);
      h.signal(busy);
      await h.waitTerminal([busy, queued]);
      assert.deepEqual(h.typesOf(queued), ['started', 'acquired', 'returned', 'released']);
      assert.equal(h.expectPhase(queued, 'returned').signaled, true);
      h.assertClean();
    });

    it('cancel a queued work: it never starts nor acquires', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 1 });
      const busy = h.submit({ mutex: h.openMutex('busy'), holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(busy, 'acquired');
      const mutex = h.openMutex('never');
      const queued = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      assert.ok(h.engine.poolStats().queued >= 1, 'the work is queued behind the busy thread');
      h.cancel(queued);
      await h.waitTerminal([queued]);
      assert.deepEqual(h.typesOf(queued), ['cancelled']);
      h.signal(busy);
      await h.waitTerminal([busy]);
      assert.deepEqual(h.typesOf(queued), ['cancelled'], 'nothing after the cancel, even once the thread is free');
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'free', recursion: 0 });
      h.assertClean();
    });

    it('cancel a waiting work: the wait is aborted', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('abort');
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      const waiter = h.submit({ mutex, acquireTimeoutMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(waiter, 'started');
      h.cancel(waiter);
      await h.waitTerminal([waiter]);
      assert.deepEqual(h.typesOf(waiter), ['started', 'cancelled']);
      assert.equal(h.terminalOf(holder), undefined, 'the holder still holds');
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'held', recursion: 1 });
      h.signal(holder);
      await h.waitTerminal([holder]);
      h.assertClean();
    });

    it('a cancel made before a release wins: the cancelled waiter never takes the mutex over', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('cancel-then-release');
      for (let round = 0; round < 10; round++) {
        const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
        await h.waitPhase(holder, 'acquired');
        const waiter = h.submit({ mutex, acquireTimeoutMs: HOLD_UNTIL_SIGNALED_MS, holdMs: HOLD_UNTIL_SIGNALED_MS });
        await h.waitPhase(waiter, 'started');
        // Back to back: the waiter's thread may not run again before the release.
        h.cancel(waiter);
        h.signal(holder);
        await h.waitTerminal([holder, waiter]);
        assert.deepEqual(h.typesOf(waiter), ['started', 'cancelled'], `round ${round}`);
        assert.equal(h.terminalOf(holder)?.type, 'released');
        assert.deepEqual(h.engine.probeMutex(mutex), { state: 'free', recursion: 0 });
      }
      h.assertClean();
    });

    it('a cancel made after a release either aborts the wait or, if the waiter owns the mutex already, ends its hold', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('release-then-cancel');
      const outcomes = new Set<string>();
      for (let round = 0; round < 10; round++) {
        const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
        await h.waitPhase(holder, 'acquired');
        const waiter = h.submit({ mutex, acquireTimeoutMs: HOLD_UNTIL_SIGNALED_MS, holdMs: HOLD_UNTIL_SIGNALED_MS });
        await h.waitPhase(waiter, 'started');
        h.signal(holder);
        await h.waitPhase(holder, 'returned');
        h.cancel(waiter);
        await h.waitTerminal([holder, waiter]);
        const types = h.typesOf(waiter).join(' ');
        outcomes.add(types);
        if (types === 'started acquired returned released') {
          assert.equal(h.expectPhase(waiter, 'returned').signaled, true, 'the cancel ended the hold like a signal');
        } else {
          assert.equal(types, 'started cancelled', `round ${round}`);
        }
        assert.deepEqual(h.engine.probeMutex(mutex), { state: 'free', recursion: 0 });
      }
      t.diagnostic(`outcomes: ${[...outcomes].join(' | ')}`);
      h.assertClean();
    });

    it('cancel a holding work: it returns signaled and releases', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('cancel-hold');
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      h.cancel(holder);
      await h.waitTerminal([holder]);
      assert.deepEqual(h.typesOf(holder), ['started', 'acquired', 'returned', 'released']);
      assert.equal(h.expectPhase(holder, 'returned').signaled, true);
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'free', recursion: 0 });
      h.assertClean();
    });

    it('handoff order: each holder\'s released is delivered before the next holder\'s acquired, stamped no later', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 4 });
      const mutex = h.openMutex('handoff');
      // A chain of waiters behind one holder: each release wakes the next waiter at once,
      // which can stamp `acquired` before the releasing side reports `released`.
      const ids = Array.from({ length: 12 }, () => h.submit({ mutex, holdMs: 1 }));
      await h.waitTerminal(ids);
      const holders = ids.map((id) => ({ id, acquired: h.expectPhase(id, 'acquired'), released: h.expectPhase(id, 'released') }))
        .sort((a, b) => a.acquired.fencingToken - b.acquired.fencingToken);
      for (let i = 1; i < holders.length; i++) {
        const prev = holders[i - 1]!;
        const next = holders[i]!;
        assert.ok(h.deliveredAt(prev.released) < h.deliveredAt(next.acquired), `released(${prev.id}) delivered before acquired(${next.id})`);
        assert.ok(prev.released.atNs <= next.acquired.atNs, `released(${prev.id}) stamped no later than acquired(${next.id})`);
      }
      assert.deepEqual(mutualExclusionViolations(h, ids), []);
      h.assertClean();
    });

    it('240 concurrent works on 4 mutexes: mutual exclusion, fencing order, one terminal each', async (t) => {
      const h = await open(t, { minThreads: 2, maxThreads: 6 });
      const seed = Date.now() % 1_000_000;
      t.diagnostic(`seed ${seed}`);
      const random = randomSource(seed);
      const mutexes = [0, 1, 2, 3].map((i) => h.openMutex(`stress${i}`));
      const pickMutex = (): string => mutexes[Math.floor(random() * mutexes.length)] ?? mutexes[0] ?? '';
      const tryOnce = new Set<string>();
      const ids: string[] = [];
      for (let i = 0; i < 240; i++) {
        const once = random() < 0.1;
        const id = h.submit({
          mutex: pickMutex(),
          acquireTimeoutMs: once ? 0 : 120_000,
          holdMs: Math.floor(random() * 4),
          spinMs: random() < 0.1 ? 1 : 0,
        });
        if (once) tryOnce.add(id);
        ids.push(id);
      }
      const terminals = await h.waitTerminal(ids, 120_000);
      for (const [i, terminal] of terminals.entries()) {
        const id = ids[i] ?? '';
        const allowed = tryOnce.has(id) ? ['released', 'timed_out'] : ['released'];
        assert.ok(allowed.includes(terminal.type), `${id} ended ${terminal.type}`);
      }
      await h.close();
      h.assertClean();
      assert.deepEqual(mutualExclusionViolations(h, ids), []);
      const acquiredCount = ids.filter((id) => h.phase(id, 'acquired') !== undefined).length;
      assert.ok(acquiredCount >= 240 - tryOnce.size);
    });

    it('the pool grows while callbacks block: 4 holders on 4 mutexes hold at once with maxThreads 4', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 4 });
      const ids = [0, 1, 2, 3].map((i) => h.submit({ mutex: h.openMutex(`grow${i}`), holdMs: HOLD_UNTIL_SIGNALED_MS }));
      await h.waitFor('all four holding', () => ids.every((id) => h.phase(id, 'acquired') !== undefined));
      assert.ok(ids.every((id) => h.phase(id, 'returned') === undefined), 'nobody returned yet');
      const threads = new Set(ids.map((id) => h.expectPhase(id, 'acquired').threadId));
      assert.equal(threads.size, 4, 'four different threads');
      const stats = h.engine.poolStats();
      assert.equal(stats.active, 4);
      assert.ok(stats.threads >= 4, `threads ${stats.threads}`);
      for (const id of ids) h.signal(id);
      await h.waitTerminal(ids);
      h.assertClean();
    });

    it('pool limits apply live; stats count submitted, queued, active, completed', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 2 });
      const initial = h.engine.poolStats();
      assert.equal(initial.minThreads, 1);
      assert.equal(initial.maxThreads, 2);
      assert.equal(initial.submitted, 0);
      assert.equal(initial.completed, 0);
      const ids = [0, 1, 2].map((i) => h.submit({ mutex: h.openMutex(`live${i}`), holdMs: HOLD_UNTIL_SIGNALED_MS }));
      const holding = (): string[] => ids.filter((id) => h.phase(id, 'acquired') !== undefined);
      await h.waitFor('two holding', () => holding().length === 2);
      const third = ids.find((id) => h.phase(id, 'started') === undefined);
      assert.ok(third !== undefined, 'with maxThreads 2 the third work has not started');
      const atMax = h.engine.poolStats();
      assert.equal(atMax.active, 2);
      assert.equal(atMax.queued, 1);
      assert.equal(atMax.submitted, 3);
      assert.equal(atMax.completed, 0);
      assert.ok(atMax.threads <= 2);

      h.call(() => h.engine.setPoolLimits({ minThreads: 1, maxThreads: 3 }));
      await h.waitPhase(third, 'acquired');
      const grown = h.engine.poolStats();
      assert.equal(grown.maxThreads, 3);
      assert.equal(grown.active, 3);
      assert.equal(grown.queued, 0);

      for (const id of ids) h.signal(id);
      await h.waitTerminal(ids);
      const done = h.engine.poolStats();
      assert.equal(done.active, 0);
      assert.equal(done.queued, 0);
      assert.equal(done.submitted, 3);
      assert.equal(done.completed, 3);
      h.assertClean();
    });

    it('setPoolLimits rejects invalid limits and keeps the old ones', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 2 });
      assertEngineError(() => h.engine.setPoolLimits({ minThreads: 3, maxThreads: 2 }), 'pool_limits_invalid');
      assertEngineError(() => h.engine.setPoolLimits({ minThreads: 0, maxThreads: 0 }), 'pool_limits_invalid');
      assertEngineError(() => h.engine.setPoolLimits({ minThreads: -1, maxThreads: 2 }), 'pool_limits_invalid');
      assertEngineError(() => h.engine.setPoolLimits({ minThreads: 1, maxThreads: 1.5 }), 'pool_limits_invalid');
      const stats = h.engine.poolStats();
      assert.equal(stats.minThreads, 1);
      assert.equal(stats.maxThreads, 2);
    });

    it('mayRunLong: true when the pool can supply a thread, false at its maximum, null when not asked', async (t) => {
      const roomy = await open(t, { minThreads: 1, maxThreads: 2 });
      // Alone in the pool: a second work running beside it would take the last thread.
      const asked = roomy.submit({ mutex: roomy.openMutex('roomy'), mayRunLong: true });
      await roomy.waitTerminal([asked]);
      assert.equal(roomy.expectPhase(asked, 'started').mayRunLong, true);
      const notAsked = roomy.submit({ mutex: roomy.openMutex('quiet') });
      await roomy.waitTerminal([notAsked]);
      assert.equal(roomy.expectPhase(notAsked, 'started').mayRunLong, null);
      roomy.assertClean();

      const full = await open(t, { minThreads: 1, maxThreads: 1 });
      const cornered = full.submit({ mutex: full.openMutex('full'), mayRunLong: true });
      await full.waitTerminal([cornered]);
      assert.equal(full.expectPhase(cornered, 'started').mayRunLong, false);
      full.assertClean();
    });

    it('close() ends queued, waiting and holding works with terminal phases; nothing stays held', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 2 });
      const mutex = h.openMutex('close');
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      const waiter = h.submit({ mutex, acquireTimeoutMs: HOLD_UNTIL_SIGNALED_MS, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(waiter, 'started');
      const queued = h.submit({ mutex: h.openMutex('close-queued'), holdMs: HOLD_UNTIL_SIGNALED_MS });
      const closeTimeoutMs = 20_000;
      const began = process.hrtime.bigint();
      await h.close(closeTimeoutMs);
      const tookMs = msBetween(began, process.hrtime.bigint());
      assert.ok(tookMs < closeTimeoutMs, `close took ${tookMs} ms: holds and waits must be ended, not waited out`);
      // Every terminal phase was delivered before close() resolved.
      h.assertClean();
      assert.deepEqual(h.typesOf(holder), ['started', 'acquired', 'returned', 'released'], 'the holder released');
      assert.equal(h.expectPhase(holder, 'returned').signaled, true);
      assert.deepEqual(h.typesOf(waiter), ['started', 'cancelled']);
      assert.deepEqual(h.typesOf(queued), ['cancelled']);
      assert.equal(h.engine.poolStats().completed, 3);
    });

    it('after close() new work is refused with shutting_down', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('refuse');
      await h.close();
      await h.close();
      assertEngineError(() => h.engine.submit({ workId: 'late', acquire: { kind: 'mutex', name: mutex }, setEventOnReturn: null, acquireTimeoutMs: 0, spinMs: 0, holdMs: 0, mayRunLong: false }), 'shutting_down');
    });
  });
}

/** Resolves once `ready()` holds, checking every few ms; for state the engine changes with no phase to say so. */
async function eventually(description: string, ready: () => boolean, timeoutMs = WAIT_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The most holders one semaphore had at once, as the service sees it: in delivery order,
 * +1 for each `acquired`, −1 for each holder's terminal phase.
 */
function mostHoldersDelivered(h: EngineHarness, workIds: readonly string[]): number {
  const phases = workIds.flatMap((id) => h.phasesOf(id)).sort((a, b) => h.deliveredAt(a) - h.deliveredAt(b));
  const holders = new Set<string>();
  let most = 0;
  for (const phase of phases) {
    if (phase.type === 'acquired') holders.add(phase.workId);
    else if (isTerminalPhase(phase)) holders.delete(phase.workId);
    most = Math.max(most, holders.size);
  }
  return most;
}

for (const factory of engineFactories) {
  describe(`engine conformance, semaphores: ${factory.kind}`, () => {
    const open = (t: Parameters<typeof EngineHarness.open>[0], pool: PoolLimits = { minThreads: 1, maxThreads: 6 }): Promise<EngineHarness> =>
      EngineHarness.open(t, factory, pool);

    it('openSemaphore: existed, kernel name, the object keeps its own maximum; counts checked; close and not-open errors', async (t) => {
      const h = await open(t);
      const name = h.openSemaphore('open', { initialCount: 2, maximumCount: 3 });
      assert.deepEqual(h.engine.probeSemaphore(name), { count: 2, maximumCount: 3 });
      const again = h.call(() => h.engine.openSemaphore(name, { initialCount: 1, maximumCount: 7 }));
      assert.equal(again.existed, true);
      assert.equal(again.maximumCount, 3, 'an existing semaphore keeps its maximum');
      assert.match(again.kernelName, /\\BaseNamedObjects\\/);
      assert.deepEqual(h.engine.probeSemaphore(name), { count: 2, maximumCount: 3 }, 'and its count');
      for (const bad of [{ initialCount: 2, maximumCount: 1 }, { initialCount: 0, maximumCount: 0 }, { initialCount: -1, maximumCount: 1 }]) {
        assert.throws(() => h.engine.openSemaphore(`Local\\${h.freshName('bad')}`, bad), RangeError, JSON.stringify(bad));
      }
      assertEngineError(() => h.engine.openSemaphore('Local\\a\\b', { initialCount: 1, maximumCount: 1 }), 'name_invalid');
      // One handle per name, as for mutexes: opening a name again does not stack.
      h.engine.closeSemaphore(name);
      assertEngineError(() => h.engine.probeSemaphore(name), 'object_not_open');
      assertEngineError(() => h.engine.closeSemaphore(name), 'object_not_open');
      assertEngineError(() => h.submit({ semaphore: name }), 'object_not_open');
      assert.equal(h.call(() => h.engine.openSemaphore(name, { initialCount: 1, maximumCount: 1 })).existed, false, 'closing the last handle destroyed it');
      h.engine.closeSemaphore(name);
    });

    it('N units held by N works, the N+1th waits and acquires after a release; counts are live; never more holders than maximumCount', async (t) => {
      const h = await open(t);
      const sem = h.openSemaphore('units', { initialCount: 3, maximumCount: 3 });
      const holders = [0, 1, 2].map(() => h.submit({ semaphore: sem, holdMs: HOLD_UNTIL_SIGNALED_MS }));
      await h.waitFor('three holders', () => holders.every((id) => h.phase(id, 'acquired') !== undefined));
      assert.deepEqual(h.engine.probeSemaphore(sem), { count: 0, maximumCount: 3 });
      for (const id of holders) assert.equal(h.expectPhase(id, 'acquired').abandoned, false);
      const fourth = h.submit({ semaphore: sem, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(fourth, 'started');
      const tryer = h.submit({ semaphore: sem, acquireTimeoutMs: 0 });
      await h.waitTerminal([tryer]);
      assert.deepEqual(h.typesOf(tryer), ['started', 'timed_out']);
      assert.equal(h.phase(fourth, 'acquired'), undefined, 'no unit left for the fourth');
      h.signal(holders[0] ?? '');
      const acquired = await h.waitPhase(fourth, 'acquired');
      const released = h.expectPhase(holders[0] ?? '', 'released');
      assert.deepEqual(released.actions, ['release_semaphore']);
      assert.ok(h.deliveredAt(released) < h.deliveredAt(acquired), 'the release that gave the unit is delivered first');
      assert.deepEqual(h.engine.probeSemaphore(sem), { count: 0, maximumCount: 3 });
      for (const id of [...holders, fourth]) h.signal(id);
      const all = [...holders, fourth, tryer];
      await h.waitTerminal(all);
      assert.deepEqual(h.engine.probeSemaphore(sem), { count: 3, maximumCount: 3 }, 'every unit is back');
      const tokens = [...holders, fourth].map((id) => h.expectPhase(id, 'acquired').fencingToken).sort((a, b) => a - b);
      assert.deepEqual(tokens, [1, 2, 3, 4], 'an acquisition sequence per semaphore');
      assert.equal(mostHoldersDelivered(h, all), 3);
      h.assertClean();
    });

    it('a semaphore with no unit: try once times out at once, a 200 ms timeout is honoured, a cancel aborts the wait', async (t) => {
      const h = await open(t);
      const sem = h.openSemaphore('empty', { initialCount: 0, maximumCount: 2 });
      const once = h.submit({ semaphore: sem, acquireTimeoutMs: 0 });
      const timed = h.submit({ semaphore: sem, acquireTimeoutMs: 200 });
      await h.waitTerminal([once, timed]);
      assert.deepEqual(h.typesOf(once), ['started', 'timed_out']);
      assert.deepEqual(h.typesOf(timed), ['started', 'timed_out']);
      const waited = msBetween(h.expectPhase(timed, 'started').atNs, h.expectPhase(timed, 'timed_out').atNs);
      assert.ok(waited >= 200 * EARLY_TOLERANCE, `waited ${waited} ms for a 200 ms timeout`);
      const waiter = h.submit({ semaphore: sem, acquireTimeoutMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(waiter, 'started');
      h.cancel(waiter);
      await h.waitTerminal([waiter]);
      assert.deepEqual(h.typesOf(waiter), ['started', 'cancelled']);
      assert.deepEqual(h.engine.probeSemaphore(sem), { count: 0, maximumCount: 2 }, 'nothing taken, nothing given');
      h.assertClean();
    });

    it('a cancel made before a release wins on a semaphore too', async (t) => {
      const h = await open(t);
      const sem = h.openSemaphore('cancel-race', { initialCount: 1, maximumCount: 1 });
      for (let round = 0; round < 5; round++) {
        const holder = h.submit({ semaphore: sem, holdMs: HOLD_UNTIL_SIGNALED_MS });
        await h.waitPhase(holder, 'acquired');
        const waiter = h.submit({ semaphore: sem, acquireTimeoutMs: HOLD_UNTIL_SIGNALED_MS, holdMs: HOLD_UNTIL_SIGNALED_MS });
        await h.waitPhase(waiter, 'started');
        h.cancel(waiter);
        h.signal(holder);
        await h.waitTerminal([holder, waiter]);
        assert.deepEqual(h.typesOf(waiter), ['started', 'cancelled'], `round ${round}`);
        assert.deepEqual(h.engine.probeSemaphore(sem), { count: 1, maximumCount: 1 });
      }
      h.assertClean();
    });

    it('handoff on a one-unit semaphore: released(prev) delivered before acquired(next), in acquisition order', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 4 });
      const sem = h.openSemaphore('handoff', { initialCount: 1, maximumCount: 1 });
      const ids = Array.from({ length: 10 }, () => h.submit({ semaphore: sem, holdMs: 1 }));
      await h.waitTerminal(ids);
      const holders = ids.map((id) => ({ id, acquired: h.expectPhase(id, 'acquired'), returned: h.expectPhase(id, 'returned'), released: h.expectPhase(id, 'released') }))
        .sort((a, b) => a.acquired.fencingToken - b.acquired.fencingToken);
      for (let i = 1; i < holders.length; i++) {
        const prev = holders[i - 1]!;
        const next = holders[i]!;
        assert.ok(h.deliveredAt(prev.released) < h.deliveredAt(next.acquired), `released(${prev.id}) delivered before acquired(${next.id})`);
        assert.ok(prev.returned.atNs <= next.acquired.atNs, `${prev.id} returned before ${next.id} acquired`);
      }
      assert.equal(mostHoldersDelivered(h, ids), 1);
      h.assertClean();
    });

    it('80 works on a two-unit semaphore: never more than two holders delivered, every unit back, one terminal each', async (t) => {
      const h = await open(t, { minThreads: 2, maxThreads: 6 });
      const seed = Date.now() % 1_000_000;
      t.diagnostic(`seed ${seed}`);
      const random = randomSource(seed);
      const sem = h.openSemaphore('stress', { initialCount: 2, maximumCount: 2 });
      const ids = Array.from({ length: 80 }, () => h.submit({
        semaphore: sem, acquireTimeoutMs: random() < 0.1 ? 0 : 120_000, holdMs: Math.floor(random() * 3),
      }));
      const terminals = await h.waitTerminal(ids, 120_000);
      for (const terminal of terminals) assert.ok(terminal.type === 'released' || terminal.type === 'timed_out', `${terminal.workId} ended ${terminal.type}`);
      assert.ok(mostHoldersDelivered(h, ids) <= 2, 'never more holders than maximumCount');
      assert.deepEqual(h.engine.probeSemaphore(sem), { count: 2, maximumCount: 2 });
      h.assertClean();
    });

    it('closeSemaphore while a work on it has not ended is object_in_use', async (t) => {
      const h = await open(t);
      const sem = h.openSemaphore('in-use', { initialCount: 1, maximumCount: 1 });
      const holder = h.submit({ semaphore: sem, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      assertEngineError(() => h.engine.closeSemaphore(sem), 'object_in_use');
      assert.deepEqual(h.engine.probeSemaphore(sem), { count: 0, maximumCount: 1 }, 'still open');
      h.signal(holder);
      await h.waitTerminal([holder]);
      h.engine.closeSemaphore(sem);
      h.assertClean();
    });
  });

  describe(`engine conformance, events and setEventOnReturn: ${factory.kind}`, () => {
    const open = (t: Parameters<typeof EngineHarness.open>[0], pool: PoolLimits = { minThreads: 1, maxThreads: 4 }): Promise<EngineHarness> =>
      EngineHarness.open(t, factory, pool);

    it('openEvent, probe, set and reset, manual and auto-reset; close and not-open errors', async (t) => {
      const h = await open(t);
      const manual = h.openEvent('manual', { manualReset: true, initialState: true });
      const auto = h.openEvent('auto', { manualReset: false, initialState: false });
      assert.deepEqual(h.engine.probeEvent(manual), { signaled: true, manualReset: true });
      assert.deepEqual(h.engine.probeEvent(auto), { signaled: false, manualReset: false });
      const again = h.call(() => h.engine.openEvent(auto, { manualReset: true, initialState: true }));
      assert.equal(again.existed, true);
      assert.deepEqual(h.engine.probeEvent(auto), { signaled: false, manualReset: false }, 'an existing event keeps its type and state');
      h.engine.resetEvent(manual);
      assert.deepEqual(h.engine.probeEvent(manual), { signaled: false, manualReset: true });
      h.engine.setEvent(auto);
      h.engine.setEvent(auto);
      assert.deepEqual(h.engine.probeEvent(auto), { signaled: true, manualReset: false }, 'an auto-reset event with no waiter stays set');
      h.engine.resetEvent(auto);
      assert.equal(h.engine.probeEvent(auto).signaled, false);
      h.engine.closeEvent(auto);
      for (const fn of [() => h.engine.probeEvent(auto), () => h.engine.setEvent(auto), () => h.engine.resetEvent(auto), () => h.engine.closeEvent(auto)]) {
        assertEngineError(fn, 'object_not_open');
      }
      assertEngineError(() => h.submit({ setEventOnReturn: auto }), 'object_not_open');
      assertEngineError(() => h.engine.openEvent('Local\\a\\b', { manualReset: true, initialState: false }), 'name_invalid');
      h.engine.closeEvent(manual);
    });

    it('setEventOnReturn with a mutex: the event is set after the mutex is free (release_mutex, set_event)', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('with-event');
      const event = h.openEvent('after-mutex', { manualReset: true, initialState: false });
      // At the moment `released` is delivered, both actions have happened.
      let atReleased: { mutex: string; signaled: boolean } | undefined;
      const id = h.submit({ mutex, setEventOnReturn: event, holdMs: HOLD_UNTIL_SIGNALED_MS });
      h.tap((phase) => {
        if (phase.workId === id && phase.type === 'released') {
          atReleased = { mutex: h.engine.probeMutex(mutex).state, signaled: h.engine.probeEvent(event).signaled };
        }
      });
      await h.waitPhase(id, 'acquired');
      assert.equal(h.engine.probeEvent(event).signaled, false, 'not set while the callback holds');
      h.signal(id);
      await h.waitTerminal([id]);
      assert.deepEqual(atReleased, { mutex: 'free', signaled: true });
      assert.deepEqual(h.expectPhase(id, 'released').actions, h.expectedActions('mutex', true));
      assert.deepEqual(h.expectPhase(id, 'released').actions, ['release_mutex', 'set_event']);
      h.assertClean();
    });

    it('setEventOnReturn with a semaphore: both actions, in the platform order', async (t) => {
      const h = await open(t);
      const sem = h.openSemaphore('with-event', { initialCount: 1, maximumCount: 1 });
      const event = h.openEvent('after-semaphore', { manualReset: true, initialState: false });
      const id = h.submit({ semaphore: sem, setEventOnReturn: event });
      await h.waitTerminal([id]);
      const { actions } = h.expectPhase(id, 'released');
      assert.deepEqual(actions, h.expectedActions('semaphore', true));
      assert.deepEqual([...actions].sort(), ['release_semaphore', 'set_event']);
      assert.deepEqual(h.engine.probeEvent(event), { signaled: true, manualReset: true });
      assert.deepEqual(h.engine.probeSemaphore(sem), { count: 1, maximumCount: 1 });
      h.assertClean();
    });

    it('a work that acquires nothing: started → returned → released with set_event; a signal ends its hold', async (t) => {
      const h = await open(t);
      const event = h.openEvent('none', { manualReset: false, initialState: false });
      const quick = h.submit({ setEventOnReturn: event });
      await h.waitTerminal([quick]);
      assert.deepEqual(h.typesOf(quick), ['started', 'returned', 'released']);
      assert.deepEqual(h.expectPhase(quick, 'released').actions, ['set_event']);
      assert.equal(h.engine.probeEvent(event).signaled, true);
      h.engine.resetEvent(event);
      const held = h.submit({ setEventOnReturn: event, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(held, 'started');
      assert.equal(h.engine.probeEvent(event).signaled, false);
      h.signal(held);
      await h.waitTerminal([held]);
      assert.deepEqual(h.typesOf(held), ['started', 'returned', 'released']);
      assert.equal(h.expectPhase(held, 'returned').signaled, true);
      assert.equal(h.engine.probeEvent(event).signaled, true);
      h.assertClean();
    });

    it('the event is set on every return path once the callback started: after a timeout and after a cancelled wait', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('paths');
      const event = h.openEvent('paths', { manualReset: true, initialState: false });
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      const timedOut = h.submit({ mutex, acquireTimeoutMs: 0, setEventOnReturn: event });
      await h.waitTerminal([timedOut]);
      assert.deepEqual(h.typesOf(timedOut), ['started', 'timed_out']);
      await eventually('the event set after the timed-out callback returned', () => h.engine.probeEvent(event).signaled);
      h.engine.resetEvent(event);
      const waiter = h.submit({ mutex, acquireTimeoutMs: HOLD_UNTIL_SIGNALED_MS, setEventOnReturn: event });
      await h.waitPhase(waiter, 'started');
      h.cancel(waiter);
      await h.waitTerminal([waiter]);
      assert.deepEqual(h.typesOf(waiter), ['started', 'cancelled']);
      await eventually('the event set after the cancelled callback returned', () => h.engine.probeEvent(event).signaled);
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'held', recursion: 1 }, 'the holder still holds');
      h.signal(holder);
      await h.waitTerminal([holder]);
      h.assertClean();
    });

    it('closeEvent while a work that sets it has not ended is object_in_use', async (t) => {
      const h = await open(t);
      const event = h.openEvent('in-use', { manualReset: true, initialState: false });
      const id = h.submit({ setEventOnReturn: event, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(id, 'started');
      assertEngineError(() => h.engine.closeEvent(event), 'object_in_use');
      h.signal(id);
      await h.waitTerminal([id]);
      h.engine.closeEvent(event);
      h.assertClean();
    });

    it('one namespace: a name open as one kind of object is name_conflict as any other kind', async (t) => {
      const h = await open(t);
      const kinds = ['mutex', 'semaphore', 'event'] as const;
      const openAs = (kind: typeof kinds[number], name: string): unknown => (kind === 'mutex' ? h.engine.openMutex(name)
        : kind === 'semaphore' ? h.engine.openSemaphore(name, { initialCount: 1, maximumCount: 1 })
          : h.engine.openEvent(name, { manualReset: false, initialState: false }));
      for (const first of kinds) {
        const bare = h.freshName(`ns-${first}`);
        h.call(() => openAs(first, `Local\\${bare}`));
        for (const other of kinds.filter((kind) => kind !== first)) {
          // Another spelling of the same kernel name is the same object.
          for (const spelling of [`Local\\${bare}`, bare]) assertEngineError(() => openAs(other, spelling), 'name_conflict');
        }
        if (first !== 'mutex') assertEngineError(() => h.engine.probeMutex(`Local\\${bare}`), 'mutex_not_open');
        if (first !== 'semaphore') assertEngineError(() => h.engine.probeSemaphore(`Local\\${bare}`), 'object_not_open');
        if (first !== 'event') assertEngineError(() => h.engine.probeEvent(`Local\\${bare}`), 'object_not_open');
        // The first object is untouched.
        if (first === 'mutex') h.engine.closeMutex(`Local\\${bare}`);
        else if (first === 'semaphore') h.engine.closeSemaphore(`Local\\${bare}`);
        else h.engine.closeEvent(`Local\\${bare}`);
      }
    });
  });

  describe(`engine conformance, abandonment on cue: ${factory.kind}`, () => {
    const open = (t: Parameters<typeof EngineHarness.open>[0], pool: PoolLimits = { minThreads: 1, maxThreads: 4 }): Promise<EngineHarness> =>
      EngineHarness.open(t, factory, pool);

    it('abandon: started → acquired → abandoned; probe says abandoned; the next acquirer gets abandoned: true', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('abandon');
      assertEngineError(() => h.engine.abandon({ workId: 'nope', mutex: `Local\\${h.freshName('unopened')}`, acquireTimeoutMs: 0 }), 'mutex_not_open');
      const abandoner = h.abandon(mutex);
      await h.waitTerminal([abandoner]);
      assert.deepEqual(h.typesOf(abandoner), ['started', 'acquired', 'abandoned']);
      assert.equal(h.expectPhase(abandoner, 'acquired').abandoned, false, 'it found the mutex free');
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'abandoned', recursion: 0 });
      // Abandoning an abandoned mutex: that abandoner is the one told.
      const second = h.abandon(mutex);
      await h.waitTerminal([second]);
      assert.equal(h.expectPhase(second, 'acquired').abandoned, true);
      const next = h.submit({ mutex });
      await h.waitTerminal([next]);
      const acquired = h.expectPhase(next, 'acquired');
      assert.equal(acquired.abandoned, true);
      assert.equal(acquired.fencingToken, h.expectPhase(second, 'acquired').fencingToken + 1, 'one fencing sequence');
      assert.deepEqual(h.expectPhase(next, 'released').actions, ['release_mutex']);
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'free', recursion: 0 }, 'the next acquirer consumed the abandoned state');
      const after = h.submit({ mutex });
      await h.waitTerminal([after]);
      assert.equal(h.expectPhase(after, 'acquired').abandoned, false);
      h.assertClean();
    });

    it('abandon waits like a work: a waiter behind it gets abandoned: true, delivered after the abandoned phase; signal is ignored', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('abandon-queue');
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      const abandoner = h.abandon(mutex);
      await h.waitPhase(abandoner, 'started');
      h.signal(abandoner);
      const waiter = h.submit({ mutex });
      await h.waitPhase(waiter, 'started');
      h.signal(holder);
      await h.waitTerminal([holder, abandoner, waiter]);
      assert.deepEqual(h.typesOf(abandoner), ['started', 'acquired', 'abandoned']);
      const [first, second] = [abandoner, waiter].sort((a, b) => h.expectPhase(a, 'acquired').fencingToken - h.expectPhase(b, 'acquired').fencingToken);
      if (first === abandoner && second !== undefined) {
        assert.equal(h.expectPhase(waiter, 'acquired').abandoned, true);
        assert.ok(h.deliveredAt(h.expectPhase(abandoner, 'abandoned')) < h.deliveredAt(h.expectPhase(waiter, 'acquired')));
      } else {
        // The waiter got there first; the abandoner took it after its release.
        assert.ok(h.deliveredAt(h.expectPhase(waiter, 'released')) < h.deliveredAt(h.expectPhase(abandoner, 'acquired')));
        assert.deepEqual(h.engine.probeMutex(mutex), { state: 'abandoned', recursion: 0 });
      }
      assert.ok(h.deliveredAt(h.expectPhase(holder, 'released')) < h.deliveredAt(h.expectPhase(first ?? '', 'acquired')));
      h.assertClean();
    });

    it('abandon on a held mutex: timed_out after its timeout, cancelled by cancel; the holder keeps it', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('abandon-held');
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      const timed = h.abandon(mutex, 200);
      await h.waitTerminal([timed]);
      assert.deepEqual(h.typesOf(timed), ['started', 'timed_out']);
      const waited = msBetween(h.expectPhase(timed, 'started').atNs, h.expectPhase(timed, 'timed_out').atNs);
      assert.ok(waited >= 200 * EARLY_TOLERANCE, `waited ${waited} ms for a 200 ms timeout`);
      const once = h.abandon(mutex, 0);
      await h.waitTerminal([once]);
      assert.deepEqual(h.typesOf(once), ['started', 'timed_out']);
      const cancelled = h.abandon(mutex, HOLD_UNTIL_SIGNALED_MS);
      await h.waitPhase(cancelled, 'started');
      h.cancel(cancelled);
      await h.waitTerminal([cancelled]);
      assert.deepEqual(h.typesOf(cancelled), ['started', 'cancelled']);
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'held', recursion: 1 });
      h.signal(holder);
      await h.waitTerminal([holder]);
      assert.deepEqual(h.engine.probeMutex(mutex), { state: 'free', recursion: 0 }, 'nobody abandoned it');
      h.assertClean();
    });

    it('abandon does not take a pool thread: with maxThreads 1 busy, an abandon still runs', async (t) => {
      const h = await open(t, { minThreads: 1, maxThreads: 1 });
      const busy = h.submit({ mutex: h.openMutex('busy'), holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(busy, 'acquired');
      const mutex = h.openMutex('dedicated');
      const abandoner = h.abandon(mutex);
      await h.waitTerminal([abandoner]);
      assert.equal(h.terminalOf(abandoner)?.type, 'abandoned');
      assert.notEqual(h.expectPhase(abandoner, 'started').threadId, h.expectPhase(busy, 'started').threadId);
      h.signal(busy);
      await h.waitTerminal([busy]);
      h.assertClean();
    });

    it('close() ends a waiting abandon with cancelled; every work ends exactly once', async (t) => {
      const h = await open(t);
      const mutex = h.openMutex('abandon-close');
      const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
      await h.waitPhase(holder, 'acquired');
      const abandoner = h.abandon(mutex);
      await h.waitPhase(abandoner, 'started');
      await h.close(20_000);
      h.assertClean();
      assert.equal(h.terminalOf(holder)?.type, 'released');
      assert.deepEqual(h.typesOf(abandoner), ['started', 'cancelled']);
    });
  });
}
