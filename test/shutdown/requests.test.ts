/**
 * Shutdown requests other than SIGTERM (src/shutdown/requests.ts): the IPC message the
 * test helpers use on Windows, SIGHUP, SIGBREAK and the native drain request. The named
 * event and the console control handler themselves are tested inside node.exe
 * (test/win32/engine-drain-request.test.ts) and end to end under Wine
 * (test/win32/cross-process.test.ts).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import {
  isShutdownMessage, listenForShutdownRequests, SHUTDOWN_MESSAGE, type DrainReason, type NativeDrainRequest,
} from '../../src/shutdown/requests.js';
import { Api } from '../e2e/api.js';
import { startServer } from '../helpers/server-process.js';

class FakeProcess extends EventEmitter {
  constructor(readonly send?: () => void) { super(); }
}

const never = (what: unknown): void => assert.fail(`unexpected: ${String(what)}`);

function fakeNative(outcome: Promise<DrainReason | 'done'>): NativeDrainRequest {
  return { name: 'Local\\fake', consoleHandler: true, wait: () => outcome, done: () => undefined, close: async () => undefined };
}

describe('listenForShutdownRequests', () => {
  it('reports SIGBREAK and the IPC shutdown message, and ignores other messages', () => {
    const proc = new FakeProcess(() => undefined);
    const seen: string[] = [];
    listenForShutdownRequests(proc, undefined, (source) => seen.push(source), never);
    proc.emit('message', { type: 'something else' });
    proc.emit('message', 'tpmutex:shutdown');
    proc.emit('message', SHUTDOWN_MESSAGE);
    proc.emit('SIGBREAK');
    assert.deepEqual(seen, ['ipc', 'SIGBREAK']);
    assert.equal(isShutdownMessage(JSON.parse(JSON.stringify(SHUTDOWN_MESSAGE))), true, 'survives serialisation');
  });

  it('listens for messages only when the process has an IPC channel (a listener would keep it alive)', () => {
    const proc = new FakeProcess();
    listenForShutdownRequests(proc, undefined, never, never);
    assert.equal(proc.listenerCount('message'), 0);
  });

  it('reports the native request with its reason; done is not a request; a failed wait is an error, not a request', async () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    listenForShutdownRequests(new FakeProcess(), fakeNative(Promise.resolve('CTRL_SHUTDOWN_EVENT')), (s) => seen.push(s), (e) => errors.push(e));
    listenForShutdownRequests(new FakeProcess(), fakeNative(Promise.resolve('event')), (s) => seen.push(s), (e) => errors.push(e));
    listenForShutdownRequests(new FakeProcess(), fakeNative(Promise.resolve('done')), (s) => seen.push(s), (e) => errors.push(e));
    listenForShutdownRequests(new FakeProcess(), fakeNative(Promise.reject(new Error('boom'))), (s) => seen.push(s), (e) => errors.push(e));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen.sort(), ['CTRL_SHUTDOWN_EVENT', 'event Local\\fake']);
    assert.equal(errors.length, 1);
  });

  it('stops listening when asked', () => {
    const proc = new FakeProcess(() => undefined);
    const stop = listenForShutdownRequests(proc, undefined, never, never);
    stop();
    proc.emit('message', SHUTDOWN_MESSAGE);
    assert.equal(proc.listenerCount('SIGBREAK'), 0);
  });
});

describe('a real server process asked to drain without SIGTERM', () => {
  it('the IPC shutdown message: drains the holding work and exits 0', async () => {
    const server = await startServer({ ENGINE: 'emulated', POOL_MIN_THREADS: '1', POOL_MAX_THREADS: '2' });
    try {
      const api = new Api(server.baseUrl);
      await api.waitReady();
      const holder = await api.submitOk({ mutex: 'ipc-drain', untilSignaled: true });
      for (const deadline = Date.now() + 60_000; (await api.work(holder.id)).body.state !== 'holding';) {
        assert.ok(Date.now() < deadline, 'the work never held its mutex');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      server.child.send(SHUTDOWN_MESSAGE);
      assert.equal(await server.exited, 0, server.logs.slice(-10).join('\n'));
      const shuttingDown = server.logs.map((l) => { try { return JSON.parse(l) as { msg?: string; signal?: string }; } catch { return {}; } })
        .find((l) => l.msg === 'shutting down');
      assert.equal(shuttingDown?.signal, 'ipc');
      assert.ok(server.logs.some((l) => l.includes('every work finished')));
    } finally {
      await server.stop('SIGKILL');
    }
  });

  it('SIGHUP (on Windows: the console closed, as libuv reports it) drains and exits 0', { skip: process.platform === 'win32' ? 'a POSIX signal' : false }, async () => {
    const server = await startServer({ ENGINE: 'emulated' });
    try {
      await new Api(server.baseUrl).waitReady();
      server.child.kill('SIGHUP');
      assert.equal(await server.exited, 0, server.logs.slice(-10).join('\n'));
      assert.ok(server.logs.some((l) => l.includes('"signal":"SIGHUP"')));
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
