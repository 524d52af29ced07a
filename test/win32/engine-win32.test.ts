/**
 * Checks only the win32 engine has (the shared contract is test/engine/conformance):
 * callbacks run on pool threads and never on the JS thread, the event loop stays free
 * while callbacks block, CallbackMayRunLong, name conflicts and `existed` against
 * handles opened outside the engine, and the loader's error. Runs on Windows Node only:
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

async function engineFor(t: TestContext, pool: PoolLimits): Promise<{ engine: Engine; phases: Phase[]; until: (pred: () => boolean) => Promise<void> }> {
  const { Win32Engine } = await import('../../src/engine/win32/engine.js');
  const engine = new Win32Engine({ pool });
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
  ({ workId, mutex, acquireTimeoutMs: 30_000, spinMs: 0, holdMs: 0, mayRunLong: false, ...over });

describe('win32 engine specifics', { skip: onWindows || skipIsFailure() ? false : WINDOWS_ONLY }, () => {
  before(() => { if (!onWindows) throw new Error(`${WINDOWS_ONLY}; CI=true: a failure, not a skip`); });

  it('runs every callback on a pool thread, never on the JS thread, and registers no koffi callback', async (t) => {
    const { GetCurrentThreadId } = await import('../../src/engine/win32/kernel32.js');
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
    const k32 = await import('../../src/engine/win32/kernel32.js');
    const { engine } = await engineFor(t, { minThreads: 1, maxThreads: 2 });
    const name = unique('outside');
    const outside = k32.CreateMutexExW(name, 0, k32.MUTEX_ALL_ACCESS);
    t.after(() => k32.CloseHandle(outside.handle));
    assert.deepEqual(engine.openMutex(name), { existed: true });
    assert.equal(k32.WaitForSingleObject(outside.handle, 0), k32.WAIT_OBJECT_0); // this thread owns it now
    assert.deepEqual(engine.probeMutex(name), { state: 'held', recursion: 1 });
    k32.ReleaseMutex(outside.handle);
    assert.deepEqual(engine.probeMutex(name), { state: 'free', recursion: 0 });

    const eventName = unique('event');
    const event = k32.CreateEventExW(eventName, 0, k32.EVENT_ALL_ACCESS);
    t.after(() => k32.CloseHandle(event));
    assert.throws(() => engine.openMutex(eventName), (err: unknown) => isEngineError(err) && err.code === 'name_conflict' && err.osCode === 6);
  });

  it('keeps fencing tokens increasing when a name is closed and opened again', async (t) => {
    const { engine, phases, until } = await engineFor(t, { minThreads: 1, maxThreads: 2 });
    const mutex = unique('fence');
    engine.openMutex(mutex);
    engine.submit(spec('one', mutex));
    await until(() => phases.some((p) => p.workId === 'one' && p.type === 'released'));
    engine.closeMutex(mutex);
    engine.openMutex(mutex);
    engine.submit(spec('two', mutex));
    await until(() => phases.some((p) => p.workId === 'two' && p.type === 'released'));
    const tokens = phases.flatMap((p) => (p.type === 'acquired' ? [p.fencingToken] : []));
    assert.deepEqual(tokens, [1, 2]);
  });

  it('fails to load with engine_unavailable listing every path it tried', async () => {
    const { loadShim } = await import('../../src/engine/win32/shim.js');
    const paths = ['C:\\nowhere\\tpmutex-shim.dll', 'D:\\also-not\\tpmutex-shim.dll'];
    assert.throws(() => loadShim(paths), (err: unknown) =>
      isEngineError(err) && err.code === 'engine_unavailable' && paths.every((p) => err.message.includes(p)));
  });
});
