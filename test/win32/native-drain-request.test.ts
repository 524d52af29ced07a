/**
 * The native drain request (src/native/console-ctrl.c through
 * src/engine/win32/drain-request.ts), inside Windows Node: natively, or in node.exe
 * under Wine through `npm run test:win32`.
 *
 * Wine cannot send CTRL_CLOSE_EVENT or CTRL_SHUTDOWN_EVENT, so the handler routine is
 * run through the DLL's test entry point (tpm_console_ctrl_invoke) on a libuv worker,
 * as Windows runs it on a thread of its own. What only real Windows shows (the events
 * reaching the handler at all; node.exe loads user32, and Windows then withholds
 * CTRL_SHUTDOWN_EVENT from console handlers on an interactive desktop) is not tested.
 *
 * Also here: the kernel32 binding's error code after an asynchronous call.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { skipIsFailure } from './wine-env.js';

const onWindows = process.platform === 'win32';
const WINDOWS_ONLY = 'Windows Node only (npm run test:win32 runs it under Wine)';
let counter = 0;
const uniqueName = (tag: string): string => `Local\\tpmutex-drain-test-${process.pid}-${++counter}-${tag}`;

type DrainModule = typeof import('../../src/engine/win32/drain-request.js');
type Kernel32 = typeof import('../../src/engine/win32/kernel32.js') & typeof import('./kernel32-for-tests.js');

describe('native drain request', { skip: onWindows || skipIsFailure() ? false : WINDOWS_ONLY }, () => {
  let drain: DrainModule;
  let k32: Kernel32;
  before(async () => {
    if (!onWindows) throw new Error(`${WINDOWS_ONLY}; CI=true: a failure, not a skip`);
    drain = await import('../../src/engine/win32/drain-request.js');
    k32 = { ...await import('../../src/engine/win32/kernel32.js'), ...await import('./kernel32-for-tests.js') };
  });

  const open = (tag: string, over: { consoleHandler?: boolean; closeBoundMs?: number } = {}) => drain.openDrainRequest({
    name: uniqueName(tag), closeBoundMs: over.closeBoundMs ?? 60_000, shutdownBoundMs: 60_000, consoleHandler: over.consoleHandler ?? false,
  });

  it('another process setting the named event ends the wait with reason "event"', async () => {
    const request = open('event');
    try {
      const waited = request.wait();
      const event = k32.OpenEventW(k32.EVENT_MODIFY_STATE, false, request.name); // as request-shutdown.js or PowerShell does
      k32.SetEvent(event);
      k32.CloseHandle(event);
      assert.equal(await waited, 'event');
    } finally {
      await request.close();
    }
  });

  it('an event of that name that existed (and was set) is reset: it is not a request', async () => {
    const name = uniqueName('existed');
    const squatter = k32.CreateEventExW(name, k32.CREATE_EVENT_MANUAL_RESET | 0x2 /* CREATE_EVENT_INITIAL_SET */, k32.EVENT_ALL_ACCESS);
    try {
      const request = drain.openDrainRequest({ name, closeBoundMs: 1000, shutdownBoundMs: 1000, consoleHandler: false });
      assert.equal(request.existed, true);
      const waited = request.wait();
      request.done(); // a request would win over done: the wait returns the request first
      assert.equal(await waited, 'done');
      await request.close();
    } finally {
      k32.CloseHandle(squatter);
    }
  });

  it('CTRL_SHUTDOWN_EVENT: the handler requests the drain and returns only after done()', async () => {
    const request = open('shutdown', { consoleHandler: true });
    try {
      let returned = false;
      const handler = drain.invokeConsoleCtrlHandler(drain.CTRL_SHUTDOWN_EVENT).then((handled) => { returned = true; return handled; });
      assert.equal(await request.wait(), 'CTRL_SHUTDOWN_EVENT');
      // Its bound is 60 s: before done() it can only still be waiting.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(returned, false, 'the handler returned before the drain was done');
      request.done();
      assert.equal(await handler, true, 'handled: no other handler runs, Windows ends the process');
    } finally {
      await request.close();
    }
  });

  it('CTRL_CLOSE_EVENT: the handler requests the drain and waits at most its bound', async () => {
    const request = open('close', { consoleHandler: true, closeBoundMs: 50 });
    try {
      const handler = drain.invokeConsoleCtrlHandler(drain.CTRL_CLOSE_EVENT);
      assert.equal(await request.wait(), 'CTRL_CLOSE_EVENT');
      assert.equal(await handler, true, 'returned after its bound without done()');
    } finally {
      await request.close();
    }
  });

  it('CTRL_C, CTRL_BREAK and CTRL_LOGOFF are passed on (libuv makes the first two SIGINT and SIGBREAK)', async () => {
    const request = open('passed-on', { consoleHandler: true });
    try {
      const waited = request.wait();
      for (const type of [drain.CTRL_C_EVENT, drain.CTRL_BREAK_EVENT, drain.CTRL_LOGOFF_EVENT]) {
        assert.equal(await drain.invokeConsoleCtrlHandler(type), false, `control type ${type}`);
      }
      request.done();
      assert.equal(await waited, 'done', 'no drain was requested');
    } finally {
      await request.close();
    }
  });

  it('one console handler per process; after close() the handler passes everything on', async () => {
    const first = open('first', { consoleHandler: true });
    try {
      assert.throws(() => open('second', { consoleHandler: true }), (err: Error & { code?: number }) => err.code === 183 /* ERROR_ALREADY_EXISTS */);
    } finally {
      await first.close();
    }
    assert.equal(await drain.invokeConsoleCtrlHandler(drain.CTRL_SHUTDOWN_EVENT), false);
    const again = open('again', { consoleHandler: true });
    await again.close();
  });

  it('kernel32: a failed GetQueuedCompletionStatusEx reports its real error code', async () => {
    const koffi = (await import('koffi')).default;
    const port = k32.CreateIoCompletionPort(k32.INVALID_HANDLE_VALUE, null, 0n, 0);
    const entries = koffi.alloc(k32.cOVERLAPPED_ENTRY, 1);
    try {
      assert.throws(() => k32.GetQueuedCompletionStatusEx(port, entries as bigint, 1, 0),
        (err: Error & { code?: number }) => err.code === k32.WAIT_TIMEOUT, 'WAIT_TIMEOUT (258), not 0');
    } finally {
      k32.CloseHandle(port);
      koffi.free(entries);
    }
  });
});
