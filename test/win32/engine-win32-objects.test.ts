/**
 * The win32 engine's semaphores, event objects and abandonment on cue, on the real shim
 * (issue 11): counts and maxima as the kernel reports them, name conflicts across the
 * three kinds, setEventOnReturn through the pool, the `released` stamp after the last
 * return action, and a mutex abandoned by a dedicated thread. The shared contract is in
 * test/engine/conformance.test.ts; these are the parts only the OS can show. Runs on
 * Windows Node only: natively, or inside node.exe under Wine (`npm run test:win32`).
 */
import assert from 'node:assert/strict';
import { before, describe, it, type TestContext } from 'node:test';
import { isEngineError } from '../../src/engine/errors.js';
import type { Phase, PoolLimits, ReleasedPhase, WorkSpec } from '../../src/engine/types.js';
import { skipIsFailure } from './wine-env.js';

const onWindows = process.platform === 'win32';
const WINDOWS_ONLY = 'Windows Node only (npm run test:win32 runs it under Wine)';
let counter = 0;
const unique = (tag: string): string => `Local\\tpmutex-w32o-${process.pid}-${++counter}-${tag}`;

type Win32Engine = import('../../src/engine/win32/engine.js').Win32Engine;

interface Harness {
  engine: Win32Engine;
  phases: Phase[];
  until: (what: string, pred: () => boolean) => Promise<void>;
  /** Called synchronously as each phase is delivered (to look at the OS at that moment). */
  onDeliver: ((phase: Phase) => void) | undefined;
}

async function engineFor(t: TestContext, pool: PoolLimits = { minThreads: 1, maxThreads: 4 }): Promise<Harness> {
  const { Win32Engine } = await import('../../src/engine/win32/engine.js');
  const engine = new Win32Engine({ pool, checked: true });
  await engine.start();
  t.after(() => engine.close({ timeoutMs: 10_000 }));
  const h: Harness = { engine, phases: [], until: async () => {}, onDeliver: undefined };
  const waiters = new Set<() => void>();
  engine.onPhase((p) => { h.phases.push(p); h.onDeliver?.(p); for (const w of [...waiters]) w(); });
  h.until = (what, pred) => new Promise((resolve, reject) => {
    if (pred()) { resolve(); return; }
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`timed out waiting for ${what}; phases: ${h.phases.map((p) => `${p.workId}:${p.type}`).join(' ')}`));
    }, 30_000);
    const check = (): void => { if (pred()) { clearTimeout(timer); waiters.delete(check); resolve(); } };
    waiters.add(check);
  });
  return h;
}

/** Polls an OS state the engine reports no phase for (the pool's action after a terminal phase), with a generous deadline. */
async function eventually(what: string, pred: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const work = (workId: string, acquire: WorkSpec['acquire'], over: Partial<WorkSpec> = {}): WorkSpec =>
  ({ workId, acquire, setEventOnReturn: null, acquireTimeoutMs: 30_000, spinMs: 0, holdMs: 0, mayRunLong: false, ...over });

const typesOf = (phases: Phase[], workId: string): string[] => phases.filter((p) => p.workId === workId).map((p) => p.type);
const phaseOf = <T extends Phase['type']>(phases: Phase[], workId: string, type: T): Extract<Phase, { type: T }> | undefined =>
  phases.find((p): p is Extract<Phase, { type: T }> => p.workId === workId && p.type === type);
const isCode = (code: string) => (err: unknown): boolean => isEngineError(err) && err.code === code;

describe('win32 engine: semaphores, events, abandonment', { skip: onWindows || skipIsFailure() ? false : WINDOWS_ONLY }, () => {
  before(() => { if (!onWindows) throw new Error(`${WINDOWS_ONLY}; CI=true: a failure, not a skip`); });

  it('opens a semaphore with least access; an existing one keeps its own maximum; counts are live', async (t) => {
    const { engine, phases, until } = await engineFor(t);
    const k32 = await import('../../src/engine/win32/kernel32.js');
    const name = unique('sem');
    const opened = engine.openSemaphore(name, { initialCount: 2, maximumCount: 3 });
    assert.equal(opened.existed, false);
    assert.equal(opened.maximumCount, 3);
    assert.match(opened.kernelName, /\\BaseNamedObjects\\tpmutex-w32o-/);
    assert.equal(engine.grantedAccess(name), k32.SEMAPHORE_LEAST_ACCESS);
    assert.deepEqual(engine.probeSemaphore(name), { count: 2, maximumCount: 3 });

    // Another handle from outside the engine: the object's own counts win.
    const outside = k32.CreateSemaphoreExW(name, 0, 9, k32.SEMAPHORE_LEAST_ACCESS);
    t.after(() => k32.CloseHandle(outside.handle));
    assert.equal(outside.lastError, 183, 'ERROR_ALREADY_EXISTS');

    // Two holders take both units; a third waits until one returns.
    engine.submit(work('a', { kind: 'semaphore', name }, { holdMs: 30_000 }));
    engine.submit(work('b', { kind: 'semaphore', name }, { holdMs: 30_000 }));
    await until('two holders', () => phases.filter((p) => p.type === 'acquired').length === 2);
    assert.deepEqual(engine.probeSemaphore(name), { count: 0, maximumCount: 3 });
    engine.submit(work('c', { kind: 'semaphore', name }));
    await until('c started', () => typesOf(phases, 'c').includes('started'));
    assert.deepEqual(typesOf(phases, 'c'), ['started'], 'no unit for c while a and b hold');
    assertThrowsCode(() => engine.closeSemaphore(name), 'object_in_use');
    engine.signal('a');
    await until('c released', () => typesOf(phases, 'c').includes('released'));
    engine.signal('b');
    await until('b released', () => typesOf(phases, 'b').includes('released'));
    assert.deepEqual(engine.probeSemaphore(name), { count: 2, maximumCount: 3 }, 'every unit back');
    for (const id of ['a', 'b', 'c']) {
      assert.deepEqual(typesOf(phases, id), ['started', 'acquired', 'returned', 'released'], id);
      assert.deepEqual(phaseOf(phases, id, 'released')?.actions, ['release_semaphore'], id);
      assert.equal(phaseOf(phases, id, 'acquired')?.abandoned, false);
    }
    const tokens = ['a', 'b', 'c'].map((id) => phaseOf(phases, id, 'acquired')!.fencingToken).sort();
    assert.deepEqual(tokens, [1, 2, 3], 'a per-semaphore acquisition sequence');

    const again = engine.openSemaphore(name, { initialCount: 1, maximumCount: 1 });
    assert.deepEqual(again, { existed: true, kernelName: opened.kernelName, maximumCount: 3 });
    engine.closeSemaphore(name);
    assertThrowsCode(() => engine.probeSemaphore(name), 'object_not_open');
    // Reopened while the outside handle keeps the object: its own maximum again.
    assert.equal(engine.openSemaphore(name, { initialCount: 0, maximumCount: 1 }).maximumCount, 3);
  });

  it('refuses bad semaphore counts with a RangeError and opens nothing', async (t) => {
    const { engine } = await engineFor(t);
    const name = unique('range');
    assert.throws(() => engine.openSemaphore(name, { initialCount: 0, maximumCount: 0 }), RangeError);
    assert.throws(() => engine.openSemaphore(name, { initialCount: 3, maximumCount: 2 }), RangeError);
    assert.throws(() => engine.openSemaphore(name, { initialCount: -1, maximumCount: 2 }), RangeError);
    assertThrowsCode(() => engine.probeSemaphore(name), 'object_not_open');
  });

  it('a name is one kind of object: mutex ↔ semaphore ↔ event conflicts are name_conflict (ERROR_INVALID_HANDLE)', async (t) => {
    const { engine } = await engineFor(t);
    const m = unique('m'); const s = unique('s'); const e = unique('e');
    engine.openMutex(m);
    engine.openSemaphore(s, { initialCount: 1, maximumCount: 1 });
    engine.openEvent(e, { manualReset: true, initialState: false });
    const conflict = (err: unknown): boolean => isEngineError(err) && err.code === 'name_conflict' && err.osCode === 6;
    assert.throws(() => engine.openSemaphore(m, { initialCount: 1, maximumCount: 1 }), conflict);
    assert.throws(() => engine.openEvent(m, { manualReset: false, initialState: false }), conflict);
    assert.throws(() => engine.openMutex(s), conflict);
    assert.throws(() => engine.openEvent(s, { manualReset: false, initialState: false }), conflict);
    assert.throws(() => engine.openMutex(e), conflict);
    assert.throws(() => engine.openSemaphore(e, { initialCount: 1, maximumCount: 1 }), conflict);
  });

  it('events: least access, the object\'s own type, set/reset/probe live', async (t) => {
    const { engine } = await engineFor(t);
    const k32 = await import('../../src/engine/win32/kernel32.js');
    const manual = unique('manual');
    assert.equal(engine.openEvent(manual, { manualReset: true, initialState: false }).existed, false);
    assert.equal(engine.grantedAccess(manual), k32.EVENT_LEAST_ACCESS);
    assert.deepEqual(engine.probeEvent(manual), { signaled: false, manualReset: true });
    engine.setEvent(manual);
    assert.deepEqual(engine.probeEvent(manual), { signaled: true, manualReset: true });
    engine.resetEvent(manual);
    assert.deepEqual(engine.probeEvent(manual), { signaled: false, manualReset: true });

    const auto = unique('auto');
    engine.openEvent(auto, { manualReset: false, initialState: true });
    assert.deepEqual(engine.probeEvent(auto), { signaled: true, manualReset: false });
    // Opened again from outside with another type: the object keeps its own.
    const outside = k32.CreateNamedEventExW(auto, k32.CREATE_EVENT_MANUAL_RESET, k32.EVENT_LEAST_ACCESS);
    t.after(() => k32.CloseHandle(outside.handle));
    assert.equal(outside.lastError, 183);
    assert.deepEqual(engine.probeEvent(auto), { signaled: true, manualReset: false });
    engine.closeEvent(auto);
    assertThrowsCode(() => engine.probeEvent(auto), 'object_not_open');
    assertThrowsCode(() => engine.setEvent(auto), 'object_not_open');
  });

  it('setEventOnReturn: when `released` is delivered the mutex is free and the event set; actions in the platform\'s order', async (t) => {
    const h = await engineFor(t);
    const { engine, phases, until } = h;
    const mutex = unique('m'); const event = unique('ev');
    engine.openMutex(mutex);
    engine.openEvent(event, { manualReset: true, initialState: false });
    const seen: { mutex: string; event: boolean }[] = [];
    h.onDeliver = (p) => { if (p.workId === 'w' && p.type === 'released') seen.push({ mutex: engine.probeMutex(mutex).state, event: engine.probeEvent(event).signaled }); };
    engine.submit(work('w', { kind: 'mutex', name: mutex }, { setEventOnReturn: event, holdMs: 30_000 }));
    await until('w acquired', () => typesOf(phases, 'w').includes('acquired'));
    assert.equal(engine.probeEvent(event).signaled, false, 'not before the return');
    assertThrowsCode(() => engine.closeEvent(event), 'object_in_use');
    engine.signal('w');
    await until('w released', () => typesOf(phases, 'w').includes('released'));
    assert.deepEqual(seen, [{ mutex: 'free', event: true }], 'both return actions done before released was delivered');
    const released = phaseOf(phases, 'w', 'released')!;
    assert.deepEqual(released.actions, ['release_mutex', 'set_event']);
    assert.ok(released.atNs >= phaseOf(phases, 'w', 'returned')!.atNs);
    engine.closeEvent(event); // the work ended: allowed
  });

  it('semaphore + setEventOnReturn: released comes after both pool actions, in this platform\'s order', async (t) => {
    const h = await engineFor(t);
    const { engine, phases, until } = h;
    const sem = unique('s'); const event = unique('ev');
    engine.openSemaphore(sem, { initialCount: 1, maximumCount: 1 });
    engine.openEvent(event, { manualReset: true, initialState: false });
    const wine = engine.info.details['wine'] === true;
    assert.equal(engine.info.details['returnActionOrder'], wine ? 'wine' : 'windows');
    const seen: { count: number; event: boolean }[] = [];
    h.onDeliver = (p) => { if (p.type === 'released') seen.push({ count: engine.probeSemaphore(sem).count, event: engine.probeEvent(event).signaled }); };
    const rounds = 20;
    for (let i = 0; i < rounds; i++) {
      engine.resetEvent(event);
      engine.submit(work(`r${i}`, { kind: 'semaphore', name: sem }, { setEventOnReturn: event }));
      await until(`r${i} released`, () => typesOf(phases, `r${i}`).includes('released'));
      const released = phaseOf(phases, `r${i}`, 'released') as ReleasedPhase;
      assert.deepEqual(released.actions, wine ? ['release_semaphore', 'set_event'] : ['set_event', 'release_semaphore'], `engine.info.details.wine = ${wine}`);
    }
    assert.deepEqual(seen, Array.from({ length: rounds }, () => ({ count: 1, event: true })), 'unit back and event set whenever released was delivered');
  });

  it('checked mode, semaphores: a second release action is refused, the work fails naming the rule, and the unit is back', async (t) => {
    const { TPM_BREAK_ACTION_TWICE } = await import('../../src/engine/win32/protocol.js');
    const { Win32Engine } = await import('../../src/engine/win32/engine.js');
    const engine = new Win32Engine({ pool: { minThreads: 1, maxThreads: 2 }, checked: true, testFlags: (id) => (id === 'twice' ? TPM_BREAK_ACTION_TWICE : 0) });
    await engine.start();
    t.after(() => engine.close({ timeoutMs: 10_000 }));
    const phases: Phase[] = [];
    engine.onPhase((p) => phases.push(p));
    const sem = unique('checked');
    engine.openSemaphore(sem, { initialCount: 1, maximumCount: 1 });
    engine.submit(work('twice', { kind: 'semaphore', name: sem }));
    await eventually('twice failed', () => typesOf(phases, 'twice').includes('failed'));
    const failed = phaseOf(phases, 'twice', 'failed')!;
    assert.equal(failed.error.code, 'rule_violation');
    assert.equal(failed.error.fn, 'ReleaseSemaphoreWhenCallbackReturns');
    assert.deepEqual(engine.probeSemaphore(sem), { count: 1, maximumCount: 1 }, 'the unit it took is back');
    engine.submit(work('after', { kind: 'semaphore', name: sem }));
    await eventually('after released', () => typesOf(phases, 'after').includes('released'));
  });

  it('an acquire of nothing only sets the event: started → returned → released [set_event]', async (t) => {
    const { engine, phases, until } = await engineFor(t);
    const event = unique('ev');
    engine.openEvent(event, { manualReset: false, initialState: false });
    engine.submit(work('n', { kind: 'none' }, { setEventOnReturn: event }));
    await until('n released', () => typesOf(phases, 'n').includes('released'));
    assert.deepEqual(typesOf(phases, 'n'), ['started', 'returned', 'released']);
    assert.deepEqual(phaseOf(phases, 'n', 'released')?.actions, ['set_event']);
    assert.deepEqual(engine.probeEvent(event), { signaled: true, manualReset: false });
  });

  it('a work that timed out after starting still has its event set by the pool', async (t) => {
    const { engine, phases, until } = await engineFor(t);
    const mutex = unique('m'); const event = unique('ev');
    engine.openMutex(mutex);
    engine.openEvent(event, { manualReset: true, initialState: false });
    engine.submit(work('holder', { kind: 'mutex', name: mutex }, { holdMs: 30_000 }));
    await until('holder acquired', () => typesOf(phases, 'holder').includes('acquired'));
    engine.submit(work('late', { kind: 'mutex', name: mutex }, { setEventOnReturn: event, acquireTimeoutMs: 0 }));
    await until('late timed out', () => typesOf(phases, 'late').includes('timed_out'));
    assert.deepEqual(typesOf(phases, 'late'), ['started', 'timed_out']);
    await eventually('the event set by the pool after the timed-out callback returned', () => engine.probeEvent(event).signaled);
    engine.signal('holder');
    await until('holder released', () => typesOf(phases, 'holder').includes('released'));
  });

  it('abandon: a dedicated thread exits owning the mutex; the probe says abandoned and the next work gets abandoned: true', async (t) => {
    const { engine, phases, until } = await engineFor(t);
    const { GetCurrentThreadId } = await import('./kernel32-for-tests.js');
    const mutex = unique('ab');
    engine.openMutex(mutex);
    engine.abandon({ workId: 'x', mutex, acquireTimeoutMs: 30_000 });
    engine.signal('x'); // ignored: an abandon has no hold
    await until('x abandoned', () => typesOf(phases, 'x').includes('abandoned'));
    assert.deepEqual(typesOf(phases, 'x'), ['started', 'acquired', 'abandoned']);
    const acquired = phaseOf(phases, 'x', 'acquired')!;
    assert.equal(acquired.abandoned, false);
    assert.equal(acquired.fencingToken, 1);
    assert.notEqual(acquired.threadId, GetCurrentThreadId());
    assert.deepEqual(engine.probeMutex(mutex), { state: 'abandoned', recursion: 0 }, 'abandoned when the phase was delivered');
    assert.equal(engine.poolStats().active, 0, 'the abandon thread is no pool callback');

    engine.submit(work('next', { kind: 'mutex', name: mutex }));
    await until('next released', () => typesOf(phases, 'next').includes('released'));
    const next = phaseOf(phases, 'next', 'acquired')!;
    assert.equal(next.abandoned, true);
    assert.equal(next.fencingToken, 2);
    assert.deepEqual(engine.probeMutex(mutex), { state: 'free', recursion: 0 });
    engine.closeMutex(mutex);
  });

  it('abandon: waits behind a holder, cancel aborts the wait, a zero timeout times out', async (t) => {
    const { engine, phases, until } = await engineFor(t);
    const mutex = unique('ab2');
    engine.openMutex(mutex);
    engine.submit(work('holder', { kind: 'mutex', name: mutex }, { holdMs: 30_000 }));
    await until('holder acquired', () => typesOf(phases, 'holder').includes('acquired'));
    engine.abandon({ workId: 'now', mutex, acquireTimeoutMs: 0 });
    engine.abandon({ workId: 'waits', mutex, acquireTimeoutMs: 30_000 });
    await until('now timed out', () => typesOf(phases, 'now').includes('timed_out'));
    await until('waits started', () => typesOf(phases, 'waits').includes('started'));
    assertThrowsCode(() => engine.closeMutex(mutex), 'mutex_in_use');
    engine.cancel('waits');
    await until('waits cancelled', () => typesOf(phases, 'waits').includes('cancelled'));
    assert.deepEqual(typesOf(phases, 'waits'), ['started', 'cancelled']);
    engine.abandon({ workId: 'behind', mutex, acquireTimeoutMs: 30_000 });
    await until('behind started', () => typesOf(phases, 'behind').includes('started'));
    engine.signal('holder');
    await until('behind abandoned', () => typesOf(phases, 'behind').includes('abandoned'));
    const order = phases.filter((p) => p.workId === 'holder' || p.workId === 'behind').map((p) => `${p.workId}:${p.type}`);
    assert.ok(order.indexOf('holder:released') < order.indexOf('behind:acquired'), order.join(' '));
    assert.deepEqual(engine.probeMutex(mutex), { state: 'abandoned', recursion: 0 });
  });

  it('close() with an abandon waiting behind a holder ends both and frees nothing under a thread', async (t) => {
    const { Win32Engine } = await import('../../src/engine/win32/engine.js');
    const engine = new Win32Engine({ pool: { minThreads: 1, maxThreads: 2 }, checked: true });
    await engine.start();
    const phases: Phase[] = [];
    engine.onPhase((p) => phases.push(p));
    const mutex = unique('close');
    engine.openMutex(mutex);
    engine.submit(work('holder', { kind: 'mutex', name: mutex }, { holdMs: 30_000 }));
    // The OS, not a phase, says the holder owns it: its ACQUIRED may still be unread
    // when close() comes. (Started at once, the abandon thread sometimes got the mutex
    // before the pool ran the holder's callback, and then rightly ended abandoned.)
    await eventually('the holder owns the mutex', () => engine.probeMutex(mutex).state === 'held');
    engine.abandon({ workId: 'waiter', mutex, acquireTimeoutMs: 30_000 });
    await eventually('both started', () => phases.filter((p) => p.type === 'started').length === 2);
    await engine.close({ timeoutMs: 10_000 });
    assert.deepEqual(typesOf(phases, 'waiter'), ['started', 'cancelled'], phases.map((p) => `${p.workId}:${p.type}`).join(' '));
    assert.equal(phases.filter((p) => p.workId === 'holder' && (p.type === 'released' || p.type === 'failed')).length, 1);
    t.diagnostic(`holder: ${typesOf(phases, 'holder').join(' → ')}`);
  });
});

function assertThrowsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, isCode(code), `expected EngineError ${code}`);
}
