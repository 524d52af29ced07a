/**
 * What only the emulated engine can show or promises: abandonment through its crash
 * hook, process-local names, the growing table, pool shrinking, real CPU spin, and that
 * its workers never keep a process alive after close().
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { EngineError, isEngineError } from '../../src/engine/errors.js';
import { EmulatedEngine, type EmulatedEngineOptions } from '../../src/engine/emulated/engine.js';
import type { PoolLimits } from '../../src/engine/types.js';
import { assertEngineError, EngineHarness, HOLD_UNTIL_SIGNALED_MS, WAIT_TIMEOUT_MS } from './harness.js';

async function openEmulated(t: TestContext, pool: PoolLimits, options: Omit<EmulatedEngineOptions, 'pool'> = {}): Promise<{ engine: EmulatedEngine; h: EngineHarness }> {
  const engine = new EmulatedEngine({ pool, ...options });
  await engine.start();
  return { engine, h: EngineHarness.of(t, engine) };
}

function assertThreadDied(h: EngineHarness, workId: string): void {
  const terminal = h.terminalOf(workId);
  assert.equal(terminal?.type, 'failed', `${workId} failed`);
  assert.ok(terminal.type === 'failed' && terminal.error instanceof EngineError && terminal.error.code === 'thread_died');
}

describe('emulated engine', () => {
  it('describes itself: process-local names, hrtime clock', async (t) => {
    const { engine } = await openEmulated(t, { minThreads: 1, maxThreads: 2 });
    assert.equal(engine.info.kind, 'emulated');
    assert.equal(engine.info.nameScope, 'process');
    assert.equal(engine.info.clock, 'process.hrtime.bigint (ns, monotonic)');
  });

  it('a worker that dies owning a mutex leaves it abandoned; the next acquirer is told; the pool replaces the worker', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 2, maxThreads: 2 });
    const mutex = h.openMutex('abandon');
    const owner = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
    const owned = await h.waitPhase(owner, 'acquired');
    await engine.crashWorkerOf(owner);
    assert.deepEqual(h.typesOf(owner), ['started', 'acquired', 'failed']);
    assertThreadDied(h, owner);
    assert.deepEqual(engine.probeMutex(mutex), { state: 'abandoned', recursion: 0 });
    // Nothing is queued, so only the minThreads rule can bring the pool back to 2.
    for (const deadline = Date.now() + WAIT_TIMEOUT_MS; engine.poolStats().threads < 2;) {
      assert.ok(Date.now() < deadline, `still ${engine.poolStats().threads} thread(s) after the crash, minThreads is 2`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    const heir = h.submit({ mutex });
    await h.waitTerminal([heir]);
    const inherited = h.expectPhase(heir, 'acquired');
    assert.equal(inherited.abandoned, true);
    assert.ok(inherited.fencingToken > owned.fencingToken);
    assert.deepEqual(engine.probeMutex(mutex), { state: 'free', recursion: 0 }, 'the abandoned state is cleared by the acquire');

    const after = h.submit({ mutex });
    await h.waitTerminal([after]);
    assert.equal(h.expectPhase(after, 'acquired').abandoned, false);
    assert.equal(engine.poolStats().threads, 2, 'minThreads kept after the crash');
    h.assertClean();
  });

  it('a waiter is woken by the abandonment and acquires with abandoned: true', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 1, maxThreads: 2 });
    const mutex = h.openMutex('abandon-wake');
    const owner = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
    await h.waitPhase(owner, 'acquired');
    const waiter = h.submit({ mutex, acquireTimeoutMs: HOLD_UNTIL_SIGNALED_MS });
    await h.waitPhase(waiter, 'started');
    await engine.crashWorkerOf(owner);
    await h.waitTerminal([owner, waiter]);
    assertThreadDied(h, owner);
    assert.equal(h.expectPhase(waiter, 'acquired').abandoned, true);
    assert.equal(h.terminalOf(waiter)?.type, 'released');
    h.assertClean();
  });

  it('a worker that dies while waiting fails its work and leaves the owner alone', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 1, maxThreads: 2 });
    const mutex = h.openMutex('die-waiting');
    const owner = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
    await h.waitPhase(owner, 'acquired');
    const waiter = h.submit({ mutex, acquireTimeoutMs: HOLD_UNTIL_SIGNALED_MS });
    await h.waitPhase(waiter, 'started');
    await engine.crashWorkerOf(waiter);
    assert.deepEqual(h.typesOf(waiter), ['started', 'failed']);
    assertThreadDied(h, waiter);
    assert.deepEqual(engine.probeMutex(mutex), { state: 'held', recursion: 1 });
    h.signal(owner);
    await h.waitTerminal([owner]);
    assert.equal(h.terminalOf(owner)?.type, 'released');
    assert.deepEqual(engine.probeMutex(mutex), { state: 'free', recursion: 0 });
    h.assertClean();
  });

  it('crashWorkerOf refuses a work that is not on a worker', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 1, maxThreads: 1 });
    await assert.rejects(engine.crashWorkerOf('nope'), (error: unknown) => isEngineError(error) && error.code === 'work_unknown');
    const busy = h.submit({ mutex: h.openMutex('busy'), holdMs: HOLD_UNTIL_SIGNALED_MS });
    await h.waitPhase(busy, 'acquired');
    const queued = h.submit({ mutex: h.openMutex('queued') });
    await assert.rejects(engine.crashWorkerOf(queued), (error: unknown) => isEngineError(error) && error.code === 'work_unknown');
    h.signal(busy);
    await h.waitTerminal([busy, queued]);
    h.assertClean();
  });

  it('names are process-local: two engines do not share a mutex of the same name', async (t) => {
    const one = await openEmulated(t, { minThreads: 1, maxThreads: 1 });
    const two = await openEmulated(t, { minThreads: 1, maxThreads: 1 });
    const name = 'Local\\tpmutex-test-shared-name';
    assert.equal(one.engine.openMutex(name).existed, false);
    assert.equal(two.engine.openMutex(name).existed, false);
    const holder = one.h.submit({ mutex: name, holdMs: HOLD_UNTIL_SIGNALED_MS });
    await one.h.waitPhase(holder, 'acquired');
    assert.equal(two.engine.probeMutex(name).state, 'free');
    one.h.signal(holder);
    await one.h.waitTerminal([holder]);
  });

  it('kernel names follow the configured session: in session 0 Local\\ and Global\\ are one mutex', async (t) => {
    const one = await openEmulated(t, { minThreads: 1, maxThreads: 1 });
    assert.equal(one.engine.openMutex('Local\\k').kernelName, '\\Sessions\\1\\BaseNamedObjects\\k');
    assert.deepEqual(one.engine.openMutex('Global\\k'), { existed: false, kernelName: '\\BaseNamedObjects\\k' });
    assert.equal(one.engine.info.details['session'], 1);

    const zero = await openEmulated(t, { minThreads: 1, maxThreads: 1 }, { session: 0 });
    assert.deepEqual(zero.engine.openMutex('Local\\k'), { existed: false, kernelName: '\\BaseNamedObjects\\k' });
    assert.deepEqual(zero.engine.openMutex('Global\\k'), { existed: true, kernelName: '\\BaseNamedObjects\\k' });
    const holder = zero.h.submit({ mutex: 'Global\\k', holdMs: HOLD_UNTIL_SIGNALED_MS });
    await zero.h.waitPhase(holder, 'acquired');
    assert.equal(zero.engine.probeMutex('Local\\k').state, 'held');
    zero.h.signal(holder);
    await zero.h.waitTerminal([holder]);
    const next = zero.h.submit({ mutex: 'Local\\k' });
    await zero.h.waitTerminal([next]);
    assert.equal(zero.h.expectPhase(next, 'acquired').fencingToken, 2, 'one fencing sequence');
    zero.h.assertClean();
  });

  it('refuseOpen makes openMutex fail as Windows does for a foreign or a privileged mutex', async (t) => {
    const { engine } = await openEmulated(t, { minThreads: 1, maxThreads: 1 });
    engine.refuseOpen('Local\\theirs', 'access_denied');
    engine.refuseOpen('Global\\new', 'privilege_required');
    assertEngineError(() => engine.openMutex('Local\\theirs'), 'access_denied');
    assertEngineError(() => engine.openMutex('Global\\new'), 'privilege_required');
    assert.equal(engine.openMutex('Local\\mine').existed, false);
  });

  it('the table grows in chunks while workers run, and works on every chunk acquire', async (t) => {
    const { h } = await openEmulated(t, { minThreads: 1, maxThreads: 3 }, { tableChunkEntries: 16 });
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push(h.submit({ mutex: h.openMutex(`chunk${i}`) }));
    const terminals = await h.waitTerminal(ids);
    assert.ok(terminals.every((phase) => phase.type === 'released'));
    h.assertClean();
  });

  it('10,000 mutexes fit; closed slots are reused as new mutexes', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 1, maxThreads: 2 });
    const names = Array.from({ length: 10_000 }, (_, i) => `Local\\tpmutex-test-many-${process.pid}-${i}`);
    for (const name of names) assert.equal(engine.openMutex(name).existed, false);
    const last = names.at(-1) ?? '';
    const first = h.submit({ mutex: last });
    await h.waitTerminal([first]);
    assert.equal(h.expectPhase(first, 'acquired').fencingToken, 1);
    for (const name of names) engine.closeMutex(name);
    for (const name of names) assert.equal(engine.openMutex(name).existed, false);
    const again = h.submit({ mutex: last });
    await h.waitTerminal([again]);
    assert.equal(h.expectPhase(again, 'acquired').fencingToken, 2, 'a reopened name is a new mutex whose tokens continue');
    assert.deepEqual(engine.probeMutex(last), { state: 'free', recursion: 0 });
    h.assertClean();
  });

  it('closing a name in use keeps its slot until the work ends; the reopened name is a new mutex', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 1, maxThreads: 2 });
    const mutex = h.openMutex('reopen');
    const holder = h.submit({ mutex, holdMs: HOLD_UNTIL_SIGNALED_MS });
    await h.waitPhase(holder, 'acquired');
    engine.closeMutex(mutex);
    assert.equal(engine.openMutex(mutex).existed, false);
    assert.deepEqual(engine.probeMutex(mutex), { state: 'free', recursion: 0 });
    const other = h.submit({ mutex, acquireTimeoutMs: 0 });
    await h.waitTerminal([other]);
    assert.equal(h.terminalOf(other)?.type, 'released', 'the new mutex is not the one still held');
    assert.ok(h.expectPhase(other, 'acquired').fencingToken > h.expectPhase(holder, 'acquired').fencingToken, 'its tokens continue');
    h.signal(holder);
    await h.waitTerminal([holder]);
    h.assertClean();
  });

  it('lowering maxThreads retires idle workers at once; queued work grows the pool again', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 3, maxThreads: 3 });
    assert.equal(engine.poolStats().threads, 3);
    engine.setPoolLimits({ minThreads: 0, maxThreads: 1 });
    assert.equal(engine.poolStats().threads, 1);
    engine.setPoolLimits({ minThreads: 0, maxThreads: 2 });
    const ids = [0, 1].map((i) => h.submit({ mutex: h.openMutex(`regrow${i}`), holdMs: HOLD_UNTIL_SIGNALED_MS }));
    await h.waitFor('both holding', () => ids.every((id) => h.phase(id, 'acquired') !== undefined));
    assert.equal(engine.poolStats().threads, 2);
    // Shrinking below the busy workers waits for them: they finish their callbacks first.
    engine.setPoolLimits({ minThreads: 0, maxThreads: 1 });
    assert.equal(engine.poolStats().active, 2);
    for (const id of ids) h.signal(id);
    await h.waitTerminal(ids);
    assert.equal(engine.poolStats().threads, 1);
    h.assertClean();
  });

  it('workers above minThreads retire after idleRetireMs idle; the pool grows again for new work', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 1, maxThreads: 3 }, { idleRetireMs: 50 });
    const holds = [0, 1, 2].map((i) => h.submit({ mutex: h.openMutex(`retire${i}`), holdMs: HOLD_UNTIL_SIGNALED_MS }));
    await h.waitFor('three holding', () => holds.every((id) => h.phase(id, 'acquired') !== undefined));
    assert.equal(engine.poolStats().threads, 3);
    for (const id of holds) h.signal(id);
    await h.waitTerminal(holds);
    // Nothing happens to a work meanwhile, so this polls the pool instead of waiting for phases.
    for (const deadline = Date.now() + WAIT_TIMEOUT_MS; engine.poolStats().threads > 1;) {
      assert.ok(Date.now() < deadline, `still ${engine.poolStats().threads} threads after ${WAIT_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The one left serves the next work; more at once grow the pool again.
    const again = [0, 1].map((i) => h.submit({ mutex: h.openMutex(`regrow-after-retire${i}`), holdMs: HOLD_UNTIL_SIGNALED_MS }));
    await h.waitFor('both holding', () => again.every((id) => h.phase(id, 'acquired') !== undefined));
    assert.equal(engine.poolStats().threads, 2);
    for (const id of again) h.signal(id);
    await h.waitTerminal(again);
    h.assertClean();
  });

  it('spin is real CPU work on the worker thread', async (t) => {
    const { h } = await openEmulated(t, { minThreads: 1, maxThreads: 1 });
    const ms = 300;
    const cpuOf = async (spec: { spinMs: number } | { holdMs: number }): Promise<number> => {
      const before = process.cpuUsage();
      const id = h.submit({ mutex: h.openMutex('cpu'), ...spec });
      await h.waitTerminal([id]);
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    };
    // The same duration held asleep is the baseline: a loaded machine may give the
    // spinning thread a small share of a core, but a sleeping one gets next to none.
    const holdCpuMs = await cpuOf({ holdMs: ms });
    const spinCpuMs = await cpuOf({ spinMs: ms });
    assert.ok(spinCpuMs >= 2 * holdCpuMs + 5, `${spinCpuMs} ms of CPU for a ${ms} ms spin, ${holdCpuMs} ms for a ${ms} ms hold`);
    h.assertClean();
  });

  it('a worker that dies holding a semaphore unit fails its work and the unit goes back', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 1, maxThreads: 2 });
    const sem = h.openSemaphore('crash', { initialCount: 1, maximumCount: 1 });
    const holder = h.submit({ semaphore: sem, holdMs: HOLD_UNTIL_SIGNALED_MS });
    await h.waitPhase(holder, 'acquired');
    const waiter = h.submit({ semaphore: sem });
    await h.waitPhase(waiter, 'started');
    await engine.crashWorkerOf(holder);
    assertThreadDied(h, holder);
    await h.waitTerminal([waiter]);
    assert.equal(h.terminalOf(waiter)?.type, 'released');
    assert.ok(h.deliveredAt(h.expectPhase(holder, 'failed')) < h.deliveredAt(h.expectPhase(waiter, 'acquired')));
    assert.deepEqual(engine.probeSemaphore(sem), { count: 1, maximumCount: 1 });
    h.assertClean();
  });

  it('abandon threads are not pool threads: pool stats leave them out', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 1, maxThreads: 1 });
    const before = engine.poolStats();
    const mutex = h.openMutex('stats');
    const abandoner = h.abandon(mutex);
    await h.waitTerminal([abandoner]);
    const after = engine.poolStats();
    assert.equal(after.threads, before.threads);
    assert.equal(after.submitted, before.submitted);
    assert.equal(after.completed, before.completed);
    h.assertClean();
  });

  it('one namespace across kinds follows the session: in session 0 Global\\x and Local\\x conflict, in session 1 they do not', async (t) => {
    const { engine: zero, h: h0 } = await openEmulated(t, { minThreads: 1, maxThreads: 1 }, { session: 0 });
    const bare = h0.freshName('ns0');
    zero.openMutex(`Global\\${bare}`);
    assertEngineError(() => zero.openSemaphore(`Local\\${bare}`, { initialCount: 1, maximumCount: 1 }), 'name_conflict');
    assertEngineError(() => zero.openEvent(bare, { manualReset: true, initialState: false }), 'name_conflict');
    const { engine: one, h: h1 } = await openEmulated(t, { minThreads: 1, maxThreads: 1 });
    const other = h1.freshName('ns1');
    one.openMutex(`Global\\${other}`);
    assert.equal(one.openSemaphore(`Local\\${other}`, { initialCount: 1, maximumCount: 1 }).existed, false);
    assertEngineError(() => one.openEvent(other, { manualReset: true, initialState: false }), 'name_conflict');
  });

  it('a semaphore reopened after close is new, and its acquisition sequence continues', async (t) => {
    const { engine, h } = await openEmulated(t, { minThreads: 1, maxThreads: 1 });
    const sem = h.openSemaphore('reopen', { initialCount: 1, maximumCount: 1 });
    const first = h.submit({ semaphore: sem });
    await h.waitTerminal([first]);
    engine.closeSemaphore(sem);
    const reopened = engine.openSemaphore(sem, { initialCount: 2, maximumCount: 4 });
    assert.equal(reopened.existed, false);
    assert.equal(reopened.maximumCount, 4);
    assert.deepEqual(engine.probeSemaphore(sem), { count: 2, maximumCount: 4 });
    const second = h.submit({ semaphore: sem });
    await h.waitTerminal([second]);
    assert.equal(h.expectPhase(second, 'acquired').fencingToken, h.expectPhase(first, 'acquired').fencingToken + 1);
    h.assertClean();
  });

  it('a process exits by itself after close(), even with works holding, waiting and queued and an abandon waiting', async (t) => {
    const engineUrl = new URL('../../src/engine/emulated/engine.js', import.meta.url).href;
    const script = `
      import { EmulatedEngine } from ${JSON.stringify(engineUrl)};
      const engine = new EmulatedEngine({ pool: { minThreads: 2, maxThreads: 2 } });
      await engine.start();
      engine.openMutex('Local\\\\a');
      engine.openMutex('Local\\\\b');
      let waiting;
      const bothRunning = new Promise((resolve) => { waiting = resolve; });
      const seen = new Set();
      const terminal = [];
      engine.onPhase((phase) => {
        seen.add(phase.workId + ':' + phase.type);
        // h and w run on two workers in either order: one holds a, the other waits for it.
        if ((seen.has('h:acquired') || seen.has('w:acquired')) && seen.has('h:started') && seen.has('w:started')) waiting();
        if (['released', 'abandoned', 'timed_out', 'cancelled', 'failed'].includes(phase.type)) terminal.push(phase.type + (phase.workId === 'q' ? ':q' : ''));
      });
      const work = (workId, mutex) => ({ workId, acquire: { kind: 'mutex', name: mutex }, setEventOnReturn: null, acquireTimeoutMs: 600000, spinMs: 0, holdMs: 600000, mayRunLong: false });
      engine.submit(work('h', 'Local\\\\a'));
      engine.submit(work('w', 'Local\\\\a'));
      engine.submit(work('q', 'Local\\\\b'));
      await bothRunning;
      // An abandon thread waiting for the held mutex: not a pool worker, and it must not keep the process alive either.
      engine.abandon({ workId: 'x', mutex: 'Local\\\\a', acquireTimeoutMs: 600000 });
      await engine.close({ timeoutMs: 10000 });
      console.log(terminal.sort().join(' '));
    `;
    // A file, not --eval: workers inherit the process's execArgv, and `-e <script>` there
    // is not what this test is about.
    const dir = await mkdtemp(join(tmpdir(), 'tpmutex-exit-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'close-and-exit.mjs');
    await writeFile(file, script);
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the process did not exit within ${WAIT_TIMEOUT_MS} ms after close(); stdout: ${stdout}`));
      }, WAIT_TIMEOUT_MS);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    assert.equal(code, 0);
    // The holder released, the waiter, the abandoner and the queued work were cancelled.
    assert.equal(stdout.trim(), 'cancelled cancelled cancelled:q released');
  });
});
