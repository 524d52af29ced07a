/**
 * The win32 engine's packet logic for semaphores, event objects and abandonment, on the
 * deterministic fake native layer (test/engine/win32-fake-native.ts): the orders a
 * loaded machine produces only now and then — a semaphore unit taken before the
 * previous holder's RELEASED arrives, an abandon's ABANDONED after the next owner's
 * ACQUIRED — forced on every run, under plain Linux Node.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { isEngineError } from '../../../src/engine/errors.js';
import type { Phase, WorkSpec } from '../../../src/engine/types.js';
import { Win32Engine } from '../../../src/engine/win32/engine.js';
import { FakeWin32Native } from '../win32-fake-native.js';

let counter = 0;
const fresh = (tag: string): string => `Local\\tpmutex-fake-${process.pid}-${++counter}-${tag}`;

async function fakeEngine(t: TestContext, maxThreads = 4, wine = false): Promise<{ engine: Win32Engine; fake: FakeWin32Native; phases: Phase[]; until: (what: string, pred: () => boolean) => Promise<void> }> {
  const fake = new FakeWin32Native();
  fake.isWine = wine;
  const engine = new Win32Engine({ pool: { minThreads: 1, maxThreads }, checked: true, loadNative: async () => fake });
  await engine.start();
  const phases: Phase[] = [];
  const waiters = new Set<() => void>();
  engine.onPhase((p) => { phases.push(p); for (const w of [...waiters]) w(); });
  const until = (what: string, pred: () => boolean): Promise<void> => new Promise((resolve, reject) => {
    if (pred()) { resolve(); return; }
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${what}: ${phases.map((p) => `${p.workId}:${p.type}`).join(' ')}`)); }, 10_000);
    const check = (): void => { if (pred()) { clearTimeout(timer); waiters.delete(check); resolve(); } };
    waiters.add(check);
  });
  t.after(async () => {
    await engine.close({ timeoutMs: 5_000 });
    assert.deepEqual(fake.crashes, [], 'what would have killed the process on Windows');
  });
  return { engine, fake, phases, until };
}

/** Lets the drain loop take every packet posted so far. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

const work = (workId: string, acquire: WorkSpec['acquire'], over: Partial<WorkSpec> = {}): WorkSpec =>
  ({ workId, acquire, setEventOnReturn: null, acquireTimeoutMs: 10_000, spinMs: 0, holdMs: 0, mayRunLong: false, ...over });
const typesOf = (phases: Phase[], id: string): string[] => phases.filter((p) => p.workId === id).map((p) => p.type);
const released = (phases: Phase[], id: string): readonly string[] | undefined => {
  const p = phases.find((q) => q.workId === id && q.type === 'released');
  return p?.type === 'released' ? p.actions : undefined;
};
const code = (c: string) => (err: unknown): boolean => isEngineError(err) && err.code === c;

describe('win32 engine: semaphores, events, abandon (fake native layer)', () => {
  it('a semaphore work: one unit taken and given back by the pool; close refused while unended, handle kept until the handback', async (t) => {
    const { engine, fake, phases, until } = await fakeEngine(t);
    const sem = fresh('s');
    assert.deepEqual(engine.openSemaphore(sem, { initialCount: 2, maximumCount: 2 }), { existed: false, kernelName: `\\Sessions\\1\\BaseNamedObjects\\${sem.slice('Local\\'.length)}`, maximumCount: 2 });
    engine.submit(work('a', { kind: 'semaphore', name: sem }));
    const launch = fake.launch(0);
    assert.throws(() => engine.closeSemaphore(sem), code('object_in_use'));
    fake.start(launch);
    fake.acquire(launch);
    assert.equal(fake.semaphoreCount(sem), 1);
    fake.return(launch);
    assert.equal(fake.semaphoreCount(sem), 2, 'the pool released the unit');
    await until('a returned', () => typesOf(phases, 'a').includes('returned'));
    fake.waitCallback(launch);
    await until('a released', () => typesOf(phases, 'a').includes('released'));
    assert.deepEqual(typesOf(phases, 'a'), ['started', 'acquired', 'returned', 'released']);
    assert.deepEqual(released(phases, 'a'), ['release_semaphore']);
    engine.closeSemaphore(sem);
    assert.throws(() => engine.probeSemaphore(sem), code('object_not_open'));
  });

  it('a unit taken before the previous holder\'s RELEASED arrives: its acquired waits for that released', async (t) => {
    const { engine, fake, phases, until } = await fakeEngine(t);
    const sem = fresh('one');
    engine.openSemaphore(sem, { initialCount: 1, maximumCount: 1 });
    engine.submit(work('a', { kind: 'semaphore', name: sem }));
    engine.submit(work('b', { kind: 'semaphore', name: sem }));
    const [la, lb] = [fake.launch(0), fake.launch(1)];
    fake.start(la); fake.acquire(la); fake.start(lb); fake.return(la);
    fake.acquire(lb); // B has A's unit; A's wait callback has not run yet
    await until('a returned', () => typesOf(phases, 'a').includes('returned'));
    await settle();
    assert.deepEqual(typesOf(phases, 'b'), ['started'], 'B\'s acquired held back: one unit, A not released yet');
    fake.waitCallback(la);
    await until('b acquired', () => typesOf(phases, 'b').includes('acquired'));
    const order = phases.map((p) => `${p.workId}:${p.type}`);
    assert.ok(order.indexOf('a:released') < order.indexOf('b:acquired'), order.join(' '));
    fake.return(lb); fake.waitCallback(lb);
    await until('b released', () => typesOf(phases, 'b').includes('released'));
  });

  for (const wine of [false, true]) {
    it(`released.actions in the ${wine ? 'Wine' : 'Windows'} order for a semaphore work with setEventOnReturn`, async (t) => {
      const { engine, fake, phases, until } = await fakeEngine(t, 4, wine);
      const sem = fresh('s'); const ev = fresh('e'); const m = fresh('m');
      engine.openSemaphore(sem, { initialCount: 1, maximumCount: 1 });
      engine.openEvent(ev, { manualReset: true, initialState: false });
      engine.openMutex(m);
      engine.submit(work('s', { kind: 'semaphore', name: sem }, { setEventOnReturn: ev }));
      fake.runThrough(fake.launch(0));
      engine.submit(work('m', { kind: 'mutex', name: m }, { setEventOnReturn: ev }));
      fake.runThrough(fake.launch(1));
      await until('both released', () => released(phases, 's') !== undefined && released(phases, 'm') !== undefined);
      assert.deepEqual(released(phases, 's'), wine ? ['release_semaphore', 'set_event'] : ['set_event', 'release_semaphore']);
      assert.deepEqual(released(phases, 'm'), ['release_mutex', 'set_event']);
      assert.equal(fake.eventState(ev), true);
      assert.deepEqual(engine.probeEvent(ev), { signaled: true, manualReset: true });
    });
  }

  it('an acquire of nothing: started → returned → released [set_event], no handoff; close refused while unended', async (t) => {
    const { engine, fake, phases, until } = await fakeEngine(t);
    const ev = fresh('e');
    engine.openEvent(ev, { manualReset: false, initialState: false });
    engine.submit(work('n', { kind: 'none' }, { setEventOnReturn: ev }));
    assert.throws(() => engine.closeEvent(ev), code('object_in_use'));
    fake.runThrough(fake.launch(0));
    await until('n released', () => typesOf(phases, 'n').includes('released'));
    assert.deepEqual(typesOf(phases, 'n'), ['started', 'returned', 'released']);
    assert.deepEqual(released(phases, 'n'), ['set_event']);
    engine.closeEvent(ev);
  });

  it('abandon: ABANDONED ends the turn; the next owner\'s earlier ACQUIRED waits for it; signal ignored; not a pool work', async (t) => {
    const { engine, fake, phases, until } = await fakeEngine(t, 1);
    const m = fresh('ab');
    engine.openMutex(m);
    engine.abandon({ workId: 'x', mutex: m, acquireTimeoutMs: 10_000 });
    engine.submit(work('next', { kind: 'mutex', name: m })); // the pool has room: the abandon is not in it
    assert.equal(fake.launches.length, 2);
    const [lx, ln] = [fake.launch(0), fake.launch(1)];
    assert.equal(lx.abandon, true);
    engine.signal('x');
    fake.start(lx); fake.acquire(lx);
    await until('x acquired', () => typesOf(phases, 'x').includes('acquired'));
    assert.equal(engine.poolStats().active, 0, 'the abandon thread is not counted as a pool callback');
    fake.return(lx); // the thread exits owning the mutex
    fake.start(ln); fake.acquire(ln); // the next owner gets it (abandoned) before the thread's wait callback ran
    await settle();
    assert.deepEqual(typesOf(phases, 'next'), ['started'], 'acquired held back until x\'s turn ended');
    fake.waitCallback(lx);
    await until('next acquired', () => typesOf(phases, 'next').includes('acquired'));
    assert.deepEqual(typesOf(phases, 'x'), ['started', 'acquired', 'abandoned']);
    const order = phases.map((p) => `${p.workId}:${p.type}`);
    assert.ok(order.indexOf('x:abandoned') < order.indexOf('next:acquired'), order.join(' '));
    fake.return(ln); fake.waitCallback(ln);
    await until('next released', () => typesOf(phases, 'next').includes('released'));
    engine.closeMutex(m);
  });

  it('abandon: a cancel before the thread claims it is cancelled at once; the thread retires the record', async (t) => {
    const { engine, fake, phases, until } = await fakeEngine(t);
    const m = fresh('ab');
    engine.openMutex(m);
    engine.abandon({ workId: 'x', mutex: m, acquireTimeoutMs: 10_000 });
    engine.cancel('x');
    await until('x cancelled', () => typesOf(phases, 'x').includes('cancelled'));
    const lx = fake.launch(0);
    assert.equal(fake.start(lx), false);
    fake.waitCallback(lx);
    await settle();
    assert.deepEqual(typesOf(phases, 'x'), ['cancelled']);
    engine.closeMutex(m);
  });
});
