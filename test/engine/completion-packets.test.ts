/**
 * The win32 engine's packet handling under plain Node, on a deterministic fake of the
 * native layer (win32-fake-native.ts): packets in the orders that a loaded machine
 * produces only now and then, each forced here on every run. The real engine on the
 * real shim runs the same races many times in test/win32/engine-win32.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { isEngineError } from '../../src/engine/errors.js';
import { Win32Engine } from '../../src/engine/win32/engine.js';
import {
  TPM_FN_CHECKED_RULE, TPM_PACKET_ACQUIRED, TPM_PACKET_CANCELLED, TPM_PACKET_RELEASED, TPM_PACKET_RETIRED,
  TPM_PACKET_RETURNED, TPM_PACKET_STARTED, TPM_PACKET_TIMED_OUT, TPM_RULE_HANDLE_CLOSED, TPM_RULE_RELEASE_NOT_OWNED,
} from '../../src/engine/win32/protocol.js';
import { Win32Error } from '../../src/engine/win32/win32-error.js';
import { assertEngineError, EngineHarness } from './harness.js';
import { FakeWin32Native } from './win32-fake-native.js';

async function fakeEngine(t: TestContext, maxThreads = 1): Promise<{ h: EngineHarness; fake: FakeWin32Native }> {
  const fake = new FakeWin32Native();
  const engine = new Win32Engine({ pool: { minThreads: 1, maxThreads }, checked: true, loadNative: async () => fake });
  await engine.start();
  const h = EngineHarness.of(t, engine);
  t.after(() => assert.deepEqual(fake.crashes, [], 'what would have killed the process on Windows'));
  return { h, fake };
}

/** Lets the drain loop take every packet posted so far. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('win32 engine packets (fake native layer)', () => {
  it('drops a CANCELLED packet that arrives after its record was handed back and launched again', async (t) => {
    const { h, fake } = await fakeEngine(t);
    const mutex = h.openMutex();
    const a = h.submit({ mutex });
    const b = h.submit({ mutex, holdMs: 1_000 }); // pending: one thread
    // The race: the cancel wins queued→cancelled; before it posts, a pool thread runs
    // A's callback (it returns at once) and the wait callback posts RETIRED.
    fake.betweenCancelAndPost = (launch) => { fake.start(launch); fake.waitCallback(launch); };
    h.cancel(a);
    fake.betweenCancelAndPost = undefined;
    await h.waitPhase(a, 'cancelled');
    await settle();
    // B reuses A's record under a new generation; the late CANCELLED carried A's.
    assert.equal(fake.launches.length, 2);
    assert.equal(fake.launch(1).record, fake.launch(0).record);
    assert.notEqual(fake.launch(1).key, fake.launch(0).key);
    assert.deepEqual(h.typesOf(b), [], 'B is not finished by the late packet');
    assert.equal(h.engine.info.details['stalePacketsDropped'], 1);
    const launchB = fake.launch(1);
    fake.start(launchB);
    fake.acquire(launchB);
    await h.waitPhase(b, 'acquired');
    // B holds: the engine must refuse to close its mutex, whatever a caller believes.
    assertEngineError(() => h.engine.closeMutex(mutex), 'mutex_in_use');
    h.signal(b);
    fake.return(launchB);
    fake.waitCallback(launchB);
    await h.waitPhase(b, 'released');
    assert.deepEqual(h.typesOf(a), ['cancelled']);
    assert.deepEqual(h.typesOf(b), ['started', 'acquired', 'returned', 'released']);
    h.engine.closeMutex(mutex);
    assert.deepEqual(fake.openMutexNames(), []);
    h.assertClean();
  });

  it('ends a cancelled work at the handback when the cancel\'s own packet comes after it', async (t) => {
    const { h, fake } = await fakeEngine(t);
    const mutex = h.openMutex();
    const a = h.submit({ mutex });
    fake.betweenCancelAndPost = (launch) => { fake.start(launch); fake.waitCallback(launch); };
    h.cancel(a);
    fake.betweenCancelAndPost = undefined;
    const [terminal] = await h.waitTerminal([a]);
    assert.equal(terminal?.type, 'cancelled');
    await settle(); // the late CANCELLED finds its record free: dropped
    assert.deepEqual(h.typesOf(a), ['cancelled']);
    h.assertClean();
  });

  it('fails a work whose callback returned without a terminal packet, naming the lost post', async (t) => {
    const { h, fake } = await fakeEngine(t);
    const mutex = h.openMutex();
    const a = h.submit({ mutex, acquireTimeoutMs: 0 });
    const launch = fake.launch(0);
    fake.start(launch);
    fake.return(launch); // its TIMED_OUT post failed: only the record says so
    fake.waitCallback(launch, { post_error: 6 });
    const failed = await h.waitPhase(a, 'failed');
    assert.equal(failed.error.fn, 'PostQueuedCompletionStatus');
    h.assertClean();
  });

  it('drops packets of every kind from an earlier launch of the same record', async (t) => {
    const { h, fake } = await fakeEngine(t);
    const mutex = h.openMutex();
    const a = h.submit({ mutex });
    fake.runThrough(fake.launch(0));
    await h.waitPhase(a, 'released');
    const b = h.submit({ mutex, acquireTimeoutMs: 0 });
    const oldKey = fake.launch(0).key;
    assert.equal(fake.launch(1).record, fake.launch(0).record);
    for (const kind of [TPM_PACKET_STARTED, TPM_PACKET_ACQUIRED, TPM_PACKET_RETURNED, TPM_PACKET_TIMED_OUT, TPM_PACKET_CANCELLED, TPM_PACKET_RELEASED, TPM_PACKET_RETIRED]) {
      fake.postRaw(oldKey, kind);
    }
    await settle();
    assert.deepEqual(h.typesOf(b), []);
    const launchB = fake.launch(1);
    fake.start(launchB);
    fake.timeOut(launchB);
    fake.waitCallback(launchB);
    await h.waitPhase(b, 'timed_out');
    assert.deepEqual(h.typesOf(a), ['started', 'acquired', 'returned', 'released']);
    assert.deepEqual(h.typesOf(b), ['started', 'timed_out']);
    h.assertClean();
  });

  it('closes a mutex only after the last callback that used it is handed back', async (t) => {
    const { h, fake } = await fakeEngine(t);
    const mutex = h.openMutex('deferred');
    const a = h.submit({ mutex, acquireTimeoutMs: 0 });
    const launch = fake.launch(0);
    assertEngineError(() => h.engine.closeMutex(mutex), 'mutex_in_use'); // queued: not ended
    fake.start(launch);
    fake.timeOut(launch); // terminal; the record is not handed back yet
    await h.waitPhase(a, 'timed_out');
    h.engine.closeMutex(mutex); // allowed: nothing on it is unfinished...
    assert.equal(fake.openMutexNames().length, 1, '...but the handle stays open for the callback');
    assertEngineError(() => h.engine.probeMutex(mutex), 'mutex_not_open');
    fake.waitCallback(launch);
    await settle();
    assert.deepEqual(fake.openMutexNames(), [], 'closed at the handback');
    h.assertClean();
  });

  it('turns a checked-mode refusal into a failed work that names the Windows rule', async (t) => {
    const { h, fake } = await fakeEngine(t, 2);
    const mutex = h.openMutex();
    const a = h.submit({ mutex });
    const b = h.submit({ mutex });
    const [launchA, launchB] = [fake.launch(0), fake.launch(1)];
    fake.start(launchA);
    fake.fail(launchA, { error_fn: TPM_FN_CHECKED_RULE, rule: TPM_RULE_RELEASE_NOT_OWNED, rule_owned: 0, rule_count: 1 });
    fake.waitCallback(launchA);
    const failedA = await h.waitPhase(a, 'failed');
    assert.equal(failedA.error.code, 'rule_violation');
    assert.match(failedA.error.message, /ReleaseMutexWhenCallbackReturns on a mutex this thread does not own exactly once .*OwnedByCaller 0, CurrentCount 1.* would raise STATUS_THREADPOOL_RELEASE_MUTEX_ON_COMPLETION_FAILED on Windows/);
    fake.runThrough(launchB);
    const [terminalB] = await h.waitTerminal([b]);
    assert.equal(terminalB?.type, 'released', 'a clean release');
    // The wait callback found the handle closed after the pool's release: not `released`.
    const c = h.submit({ mutex });
    const launchC = fake.launch(2);
    fake.start(launchC);
    fake.acquire(launchC);
    fake.return(launchC);
    fake.waitCallback(launchC, { rule: TPM_RULE_HANDLE_CLOSED, rule_status: 0xc0000008 | 0 });
    const failedC = await h.waitPhase(c, 'failed');
    assert.match(failedC.error.message, /releasing a mutex handle that is not open .*0xc0000008.* would raise an exception on Windows/);
    h.assertClean();
  });

  it('close() tells every waiter to give up before it ends any hold, whatever the drain has read', async (t) => {
    const { h, fake } = await fakeEngine(t, 8);
    const mutex = h.openMutex();
    const semaphore = h.openSemaphore('s', { initialCount: 1, maximumCount: 1 });
    const holder = h.submit({ mutex, holdMs: 600_000 });
    const waiter = h.submit({ mutex });
    const abandoner = h.abandon(mutex);
    const unitHolder = h.submit({ semaphore, holdMs: 600_000 });
    const unitWaiter = h.submit({ semaphore });
    const queued = h.submit({ mutex });
    const [lHolder, lWaiter, lAbandoner, lUnitHolder, lUnitWaiter, lQueued] = [0, 1, 2, 3, 4, 5].map((n) => fake.launch(n));
    // The holders own their objects and the waiters wait, but the drain has read none of
    // it: every work still looks submitted, holders and waiters alike.
    for (const launch of [lHolder, lWaiter, lAbandoner, lUnitHolder, lUnitWaiter]) fake.start(launch!);
    fake.acquire(lHolder!);
    fake.acquire(lUnitHolder!);
    const closed = h.close();
    await settle();
    assert.deepEqual(fake.takeovers, [], 'no hold ended while a waiter on its object had not been told to give up');
    // Each waiter's thread sees its cancel; the holders' threads return after their signal.
    for (const launch of [lWaiter, lAbandoner, lUnitWaiter]) {
      fake.abortWait(launch!);
      fake.waitCallback(launch!);
    }
    for (const launch of [lHolder, lUnitHolder]) {
      fake.return(launch!);
      fake.waitCallback(launch!);
    }
    assert.equal(fake.start(lQueued!), false, 'the queued work was cancelled before its callback ran');
    fake.waitCallback(lQueued!);
    await closed;
    for (const id of [waiter, abandoner, unitWaiter]) assert.deepEqual(h.typesOf(id), ['started', 'cancelled'], id);
    for (const id of [holder, unitHolder]) assert.deepEqual(h.typesOf(id), ['started', 'acquired', 'returned', 'released'], id);
    assert.deepEqual(h.typesOf(queued), ['cancelled']);
    h.assertClean();
  });

  it('after a failed drain: fails every work, takes nothing new, frees nothing a pool thread may use', async (t) => {
    const { h, fake } = await fakeEngine(t, 2);
    const mutex = h.openMutex();
    const holder = h.submit({ mutex, holdMs: 600_000 });
    const waiter = h.submit({ mutex });
    const pending = h.submit({ mutex });
    fake.start(fake.launch(0));
    fake.acquire(fake.launch(0));
    await h.waitPhase(holder, 'acquired');
    fake.failTakeWith = new Win32Error(6, 'GetQueuedCompletionStatusEx');
    fake.start(fake.launch(1)); // wakes the drain, which now fails
    await h.waitTerminal([holder, waiter, pending]);
    for (const id of [holder, waiter, pending]) assert.equal(h.terminalOf(id)?.type, 'failed', id);
    const fault = h.engine.fault();
    assert.ok(fault !== undefined && fault.code === 'engine_unavailable' && /completion port/.test(fault.message), String(fault));
    assert.throws(() => h.engine.submit({ workId: 'late', acquire: { kind: 'mutex', name: mutex }, setEventOnReturn: null, acquireTimeoutMs: 0, spinMs: 0, holdMs: 0, mayRunLong: false }),
      (err: unknown) => isEngineError(err) && err.code === 'engine_unavailable');
    assertEngineError(() => h.engine.openMutex('Local\\another'), 'engine_unavailable');
    // The callbacks were told to stop; nobody will hand their records back. Closing the
    // mutex must not free its record or close its handle under them.
    h.engine.closeMutex(mutex);
    assert.equal(fake.openMutexNames().length, 1);
    h.assertClean();
  });
});
