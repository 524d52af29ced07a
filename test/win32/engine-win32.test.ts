/**
 * Checks only the win32 engine has (the shared contract is test/engine/conformance):
 * callbacks run on pool threads and never on the JS thread, the event loop stays free
 * while callbacks block, CallbackMayRunLong, name conflicts and `existed` against
 * handles opened outside the engine, the access the engine asks for and a mutex that
 * refuses it, the loader's error, checked mode (each check fires when a rule is broken
 * on purpose) and the cancel/start race under stress. Runs on Windows Node only:
 * natively, or inside node.exe under Wine through `npm run test:win32`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { isEngineError } from '../../src/engine/errors.js';
import type { Engine, Phase, PoolLimits, WorkSpec } from '../../src/engine/types.js';
import { projectRoot, skipIsFailure } from './wine-env.js';

const onWindows = process.platform === 'win32';
const WINDOWS_ONLY = 'Windows Node only (npm run test:win32 runs it under Wine)';
let counter = 0;
const unique = (tag: string): string => `Local\\tpmutex-w32-${process.pid}-${++counter}-${tag}`;

interface EngineExtras {
  /** Checked mode; on unless a test turns it off. */
  readonly checked?: boolean;
  readonly testFlags?: (workId: string) => number;
}

async function engineFor(t: TestContext, pool: PoolLimits, extras: EngineExtras = {}): Promise<{ engine: Engine; phases: Phase[]; until: (pred: () => boolean) => Promise<void> }> {
  const { Win32Engine } = await import('../../src/engine/win32/engine.js');
  const engine = new Win32Engine({ pool, checked: extras.checked ?? true, ...(extras.testFlags ? { testFlags: extras.testFlags } : {}) });
  await engine.start();
  t.after(() => engine.close({ timeoutMs: 10_000 }));
  const phases: Phase[] = [];
  const waiters = new Set<() => void>();
  engine.onPhase((p) => { phases.push(p); for (const w of [...waiters]) w(); });
  const until = (pred: () => boolean): Promise<void> => new Promise((resolve, reject) => {
    if (pred()) { resolve(); return; }
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out; phases: ${phases.map((p) => `${p.workId}:${p.type}`).join(' ')}`)); }, 30_000);
    const check = (): void => { if (pred()) { clearTimeout(timer); waiters.delete(check); resolve(); } };
    waiters.add(check);
  });
  return { engine, phases, until };
}

const spec = (workId: string, mutex: string, over: Partial<WorkSpec> = {}): WorkSpec =>
  ({ workId, acquire: { kind: 'mutex', name: mutex }, setEventOnReturn: null, acquireTimeoutMs: 30_000, spinMs: 0, holdMs: 0, mayRunLong: false, ...over });

describe('win32 engine specifics', { skip: onWindows || skipIsFailure() ? false : WINDOWS_ONLY }, () => {
  before(() => { if (!onWindows) throw new Error(`${WINDOWS_ONLY}; CI=true: a failure, not a skip`); });

  it('runs every callback on a pool thread, never on the JS thread, and registers no koffi callback', async (t) => {
    const { GetCurrentThreadId } = await import('./kernel32-for-tests.js');
    const mainThread = GetCurrentThreadId();
    const { engine, phases, until } = await engineFor(t, { minThreads: 2, maxThreads: 4 });
    const mutex = unique('threads');
    engine.openMutex(mutex);
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const id of ids) engine.submit(spec(id, mutex, { holdMs: 2 }));
    await until(() => phases.filter((p) => p.type === 'released').length === ids.length);
    const threads = phases.flatMap((p) => (p.type === 'started' || p.type === 'acquired' ? [p.threadId] : []));
    assert.equal(threads.length, ids.length * 2);
    assert.ok(threads.every((tid) => tid !== mainThread), `pool thread ids ${[...new Set(threads)].join(',')} vs JS thread ${mainThread}`);
    // And structurally: nothing in the engine hands a JS function to native code.
    const dir = join(projectRoot, 'src', 'engine', 'win32');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(join(dir, file), 'utf8');
      assert.doesNotMatch(source, /koffi\.(register|proto)\s*\(/, `${file} must not register koffi callbacks`);
    }
  });

  it('takes none of libuv\'s pool threads: the drain reads the port on a thread of its own', async (t) => {
    const koffi = (await import('koffi')).default;
    const k32 = { ...await import('../../src/engine/win32/kernel32.js'), ...await import('./kernel32-for-tests.js') };
    const { engine, phases, until } = await engineFor(t, { minThreads: 1, maxThreads: 2 });
    const mutex = unique('uv-pool');
    engine.openMutex(mutex);
    engine.submit(spec('before', mutex));
    await until(() => phases.some((p) => p.workId === 'before' && p.type === 'released'));
    // As many blocking calls as libuv has pool threads (node.exe's default, 4): each
    // signals its own event once a pool thread runs it, then waits for `go`.
    const poolSize = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
    const SignalObjectAndWait = koffi.load('kernel32.dll').func('__stdcall', 'SignalObjectAndWait', k32.cDWORD, [k32.cHANDLE, k32.cHANDLE, k32.cDWORD, k32.cBOOL]);
    const newEvent = (): bigint => k32.CreateEventExW(null, k32.CREATE_EVENT_MANUAL_RESET, k32.EVENT_ALL_ACCESS);
    const go = newEvent();
    const running = Array.from({ length: poolSize }, newEvent);
    const calls = running.map((event) => new Promise<void>((resolve, reject) => {
      SignalObjectAndWait.async(event, go, 120_000, 0, (err: unknown) => { if (err) reject(err); else resolve(); });
    }));
    try {
      const allRunning = (): boolean => running.every((event) => k32.WaitForSingleObject(event, 0) === k32.WAIT_OBJECT_0);
      for (let i = 0; i < 600 && !allRunning(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(allRunning(), `all ${poolSize} of libuv's pool threads run a call while the engine is started`);
      // With every pool thread taken, packets still arrive.
      engine.submit(spec('during', mutex));
      await until(() => phases.some((p) => p.workId === 'during' && p.type === 'released'));
    } finally {
      k32.SetEvent(go);
      await Promise.all(calls);
      for (const event of [go, ...running]) k32.CloseHandle(event);
    }
  });

  it('keeps the event loop free while callbacks wait and hold', async (t) => {
    const { engine, phases, until } = await engineFor(t, { minThreads: 1, maxThreads: 4 });
    const mutex = unique('loop');
    engine.openMutex(mutex);
    engine.submit(spec('holder', mutex, { holdMs: 600_000 }));
    await until(() => phases.some((p) => p.workId === 'holder' && p.type === 'acquired'));
    engine.submit(spec('waiter', mutex, { acquireTimeoutMs: 600_000 }));
    await until(() => phases.some((p) => p.workId === 'waiter' && p.type === 'started'));
    const began = performance.now();
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
    assert.ok(performance.now() - began < 2_000, 'twenty 1 ms timers fire promptly while a pool thread blocks');
    engine.signal('holder');
    await until(() => phases.some((p) => p.workId === 'waiter' && p.type === 'released'));
  });

  it('reports CallbackMayRunLong: true with room in the pool, false at its maximum', async (t) => {
    for (const [pool, expected] of [[{ minThreads: 1, maxThreads: 2 }, true], [{ minThreads: 1, maxThreads: 1 }, false]] as const) {
      const { engine, phases, until } = await engineFor(t, pool);
      const mutex = unique('long');
      engine.openMutex(mutex);
      engine.submit(spec('long', mutex, { mayRunLong: true }));
      await until(() => phases.some((p) => p.type === 'released'));
      const started = phases.find((p) => p.type === 'started');
      assert.equal(started?.type === 'started' && started.mayRunLong, expected, `maxThreads ${pool.maxThreads}`);
    }
  });

  it('sees handles opened outside the engine: existed, held by another thread, name_conflict for an event', async (t) => {
    const k32 = { ...await import('../../src/engine/win32/kernel32.js'), ...await import('./kernel32-for-tests.js') };
    const { engine } = await engineFor(t, { minThreads: 1, maxThreads: 2 });
    const name = unique('outside');
    const outside = k32.CreateMutexExW(name, 0, k32.MUTEX_ALL_ACCESS);
    t.after(() => k32.CloseHandle(outside.handle));
    assert.equal(engine.openMutex(name).existed, true);
    assert.equal(k32.WaitForSingleObject(outside.handle, 0), k32.WAIT_OBJECT_0); // this thread owns it now
    assert.deepEqual(engine.probeMutex(name), { state: 'held', recursion: 1 });
    k32.ReleaseMutex(outside.handle);
    assert.deepEqual(engine.probeMutex(name), { state: 'free', recursion: 0 });

    const eventName = unique('event');
    const event = k32.CreateEventExW(eventName, 0, k32.EVENT_ALL_ACCESS);
    t.after(() => k32.CloseHandle(event));
    assert.throws(() => engine.openMutex(eventName), (err: unknown) => isEngineError(err) && err.code === 'name_conflict' && err.osCode === 6);
  });

  it('opens a mutex with exactly SYNCHRONIZE | MUTEX_MODIFY_STATE and reports the kernel\'s name for it', async (t) => {
    const { Win32Engine } = await import('../../src/engine/win32/engine.js');
    const k32 = { ...await import('../../src/engine/win32/kernel32.js'), ...await import('./kernel32-for-tests.js') };
    const engine = new Win32Engine({ pool: { minThreads: 1, maxThreads: 1 } });
    await engine.start();
    t.after(() => engine.close({ timeoutMs: 10_000 }));
    const name = unique('access');
    const opened = engine.openMutex(name);
    assert.equal(engine.grantedAccess(name), k32.MUTEX_LEAST_ACCESS, 'granted access of the engine\'s handle');
    assert.equal(k32.MUTEX_LEAST_ACCESS, 0x100001);
    assert.match(opened.kernelName, /^\\(Sessions\\\d+\\)?BaseNamedObjects\\tpmutex-w32-/);
    assert.ok(opened.kernelName.endsWith(name.slice('Local\\'.length)));
  });

  it('a mutex whose security descriptor refuses us: access_denied naming it, not os_error', async (t) => {
    const k32 = { ...await import('../../src/engine/win32/kernel32.js'), ...await import('./kernel32-for-tests.js') };
    const { createRestrictedMutex, SDDL_NO_ACCESS } = await import('./restricted-mutex.js');
    const { engine } = await engineFor(t, { minThreads: 1, maxThreads: 1 });
    const name = unique('denied');
    const theirs = createRestrictedMutex(name, SDDL_NO_ACCESS);
    t.after(() => k32.CloseHandle(theirs));
    assert.throws(() => engine.openMutex(name), (err: unknown) =>
      isEngineError(err) && err.code === 'access_denied' && err.osCode === 5 && err.message.includes(name));
    // A Global\ name that exists and refuses us is access_denied too, not a missing privilege.
    const globalName = `Global\\tpmutex-w32-${process.pid}-${++counter}-denied`;
    let theirsGlobal: bigint;
    try {
      theirsGlobal = createRestrictedMutex(globalName, SDDL_NO_ACCESS);
    } catch (err) {
      // Outside session 0 and not elevated, creating a Global\ object is refused itself.
      t.diagnostic(`cannot create ${globalName} here: ${(err as Error).message}`);
      return;
    }
    t.after(() => k32.CloseHandle(theirsGlobal));
    assert.throws(() => engine.openMutex(globalName), (err: unknown) => isEngineError(err) && err.code === 'access_denied');
  });

  it('fails to load with engine_unavailable listing every path it tried', async () => {
    const { loadShim } = await import('../../src/engine/win32/shim.js');
    const paths = ['C:\\nowhere\\tpmutex-shim.dll', 'D:\\also-not\\tpmutex-shim.dll'];
    assert.throws(() => loadShim(paths), (err: unknown) =>
      isEngineError(err) && err.code === 'engine_unavailable' && paths.every((p) => err.message.includes(p)));
  });
  it('checked mode: each Windows rule broken on purpose fails its work, names the rule, and leaves the mutex free', async (t) => {
    const p = await import('../../src/engine/win32/protocol.js');
    const broken: Record<string, number> = {
      twice: p.TPM_BREAK_ACTION_TWICE,
      unowned: p.TPM_BREAK_RELEASE_NOT_OWNED,
      closed: p.TPM_BREAK_HANDLE_CLOSED,
    };
    const { engine, phases, until } = await engineFor(t, { minThreads: 1, maxThreads: 2 }, { testFlags: (id) => broken[id] ?? 0 });
    const mutex = unique('checked');
    engine.openMutex(mutex);
    const expected: Record<string, RegExp> = {
      twice: /registering the same callback-return action twice in one callback would raise an exception on Windows/,
      unowned: /ReleaseMutexWhenCallbackReturns on a mutex this thread does not own exactly once \(NtQueryMutant status 0x00000000, OwnedByCaller 0, CurrentCount 1\) would raise STATUS_THREADPOOL_RELEASE_MUTEX_ON_COMPLETION_FAILED on Windows/,
      closed: /the pool releasing a mutex handle that is not open \(NtQueryMutant status 0xc0000008.*\) would raise an exception on Windows/,
    };
    for (const id of Object.keys(broken)) {
      engine.submit(spec(id, mutex));
      await until(() => phases.some((ph) => ph.workId === id && ph.type === 'failed'));
      const failed = phases.find((ph) => ph.workId === id && ph.type === 'failed');
      assert.ok(failed?.type === 'failed');
      assert.equal(failed.error.code, 'rule_violation', id);
      assert.match(failed.error.message, expected[id]!, id);
      assert.deepEqual(phases.filter((ph) => ph.workId === id).map((ph) => ph.type), ['started', 'failed'], id);
      assert.deepEqual(engine.probeMutex(mutex), { state: 'free', recursion: 0 }, `${id} leaves nothing owned`);
    }
    engine.submit(spec('clean', mutex));
    await until(() => phases.some((ph) => ph.workId === 'clean' && ph.type === 'released'));
    engine.closeMutex(mutex);
  });

  it('checked mode off: the rule-breaking test flags are ignored', async (t) => {
    const p = await import('../../src/engine/win32/protocol.js');
    const { engine, phases, until } = await engineFor(t, { minThreads: 1, maxThreads: 2 }, { checked: false, testFlags: () => p.TPM_BREAK_RELEASE_NOT_OWNED | p.TPM_BREAK_HANDLE_CLOSED | p.TPM_BREAK_ACTION_TWICE });
    const mutex = unique('unchecked');
    engine.openMutex(mutex);
    engine.submit(spec('plain', mutex));
    await until(() => phases.some((ph) => ph.workId === 'plain' && ph.type === 'released'));
    assert.equal(engine.info.details['checked'], false);
  });

  it('close(): each hold takes its abort in and holds on until the waiters on its mutex or semaphore are cancelled', async (t) => {
    const p = await import('../../src/engine/win32/protocol.js');
    // TPM_TEST_ABORT_TAKEN: close()'s first pass returns from each abort only once that
    // job's thread has woken on it, so each holder's hold has seen its bare abort (and
    // must sleep on) before the waiter behind it is told anything.
    const { engine, phases, until } = await engineFor(t, { minThreads: 1, maxThreads: 4 }, { testFlags: () => p.TPM_TEST_ABORT_TAKEN });
    const mutex = unique('close-m');
    const semaphore = unique('close-s');
    engine.openMutex(mutex);
    engine.openSemaphore(semaphore, { initialCount: 1, maximumCount: 1 });
    const typesOf = (id: string): string[] => phases.filter((ph) => ph.workId === id).map((ph) => ph.type);
    engine.submit(spec('mutex-holder', mutex, { holdMs: 60_000 }));
    engine.submit(spec('unit-holder', mutex, { acquire: { kind: 'semaphore', name: semaphore }, holdMs: 60_000 }));
    await until(() => typesOf('mutex-holder').includes('acquired') && typesOf('unit-holder').includes('acquired'));
    engine.submit(spec('mutex-waiter', mutex));
    engine.abandon({ workId: 'abandon-waiter', mutex, acquireTimeoutMs: 60_000 });
    engine.submit(spec('unit-waiter', mutex, { acquire: { kind: 'semaphore', name: semaphore } }));
    await until(() => ['mutex-waiter', 'abandon-waiter', 'unit-waiter'].every((id) => typesOf(id).includes('started')));
    await engine.close({ timeoutMs: 10_000 });
    for (const id of ['mutex-waiter', 'abandon-waiter', 'unit-waiter']) assert.deepEqual(typesOf(id), ['started', 'cancelled'], id);
    for (const id of ['mutex-holder', 'unit-holder']) {
      assert.deepEqual(typesOf(id), ['started', 'acquired', 'returned', 'released'], id);
      const returned = phases.find((ph) => ph.workId === id && ph.type === 'returned');
      assert.ok(returned?.type === 'returned' && returned.signaled, `${id}: its hold was ended by close()'s signal, not by its time`);
    }
  });

  it('cancels racing starts on a 2-thread pool: every work ends exactly once, with its own outcome', async (t) => {
    const p = await import('../../src/engine/win32/protocol.js');
    // Works named c… are cancelled right after their submission; half of them hold the
    // cancel's CANCELLED post back until their callback has returned, so the record is
    // usually handed back, and the next work launched into it, before that packet arrives.
    const { engine, phases, until } = await engineFor(t, { minThreads: 1, maxThreads: 2 }, {
      testFlags: (id) => (id.startsWith('c') && Number(id.slice(id.lastIndexOf('-') + 1)) % 2 === 0 ? p.TPM_TEST_LATE_CANCEL_POST : 0),
    });
    const mutexes = [unique('race-a'), unique('race-b')];
    for (const m of mutexes) engine.openMutex(m);
    const rounds = 1500;
    const all: string[] = [];
    const byWork = new Map<string, Phase[]>();
    const ended = new Set<string>();
    let indexed = 0;
    const index = (): void => {
      for (; indexed < phases.length; indexed++) {
        const ph = phases[indexed]!;
        const list = byWork.get(ph.workId) ?? [];
        list.push(ph);
        byWork.set(ph.workId, list);
        if (['released', 'timed_out', 'cancelled', 'failed'].includes(ph.type)) ended.add(ph.workId);
      }
    };
    const allEnded = (): boolean => { index(); return ended.size === all.length; };
    const cancelled = new Set<string>();
    for (let r = 0; r < rounds; r++) {
      const mutex = mutexes[r % mutexes.length]!;
      // Two launched at once (the pool has two threads), the third pending: it takes the
      // record of whichever is handed back first.
      const ids = [`k-${r}`, `c-${r}`, `n-${r}`]; // c's cancel follows its submission closely
      for (const id of ids) engine.submit(spec(id, mutex, { holdMs: r % 3 === 0 ? 1 : 0 }));
      engine.cancel(`c-${r}`);
      cancelled.add(`c-${r}`);
      if (r % 2 === 0) { await new Promise((resolve) => setImmediate(resolve)); engine.cancel(`k-${r}`); cancelled.add(`k-${r}`); }
      all.push(...ids);
      // Each round starts with an empty pool, so c and k are in the pool (not in the
      // engine's own queue) when the cancels come.
      await until(allEnded);
    }
    await until(allEnded);
    await new Promise((resolve) => setTimeout(resolve, 50)); // a late packet would show now
    index();
    const wrong: string[] = [];
    for (const id of all) {
      const types = (byWork.get(id) ?? []).map((ph) => ph.type);
      const terminals = types.filter((ty) => ['released', 'timed_out', 'cancelled', 'failed'].includes(ty));
      const ownOutcome = types.includes('acquired')
        ? types.join(' ') === 'started acquired returned released'
        : cancelled.has(id) && (types.join(' ') === 'cancelled' || types.join(' ') === 'started cancelled');
      if (terminals.length !== 1 || !ownOutcome) wrong.push(`${id}: ${types.join(' ')}`);
    }
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} of ${all.length} works ended wrongly`);
    for (const m of mutexes) engine.closeMutex(m); // nothing on them any more
    const beforeStart = all.filter((id) => (byWork.get(id) ?? []).map((ph) => ph.type).join(' ') === 'cancelled').length;
    t.diagnostic(`${all.length} works, ${cancelled.size} cancelled (${beforeStart} before their callback started); stale packets dropped: ${engine.info.details['stalePacketsDropped']}`);
  });
});
