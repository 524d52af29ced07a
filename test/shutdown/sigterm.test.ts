/**
 * Graceful shutdown of a real server process: SIGTERM with works queued, waiting and
 * holding. During the drain delay readyz is 503, new work and new mutexes are refused
 * with a `shutting-down` problem, while signal, cancel and reads keep working; then
 * queued work is cancelled, the wait aborted, the hold ended, every work gets its
 * terminal event on the open stream before it closes, long-polls answer with the final
 * state, and the process exits 0. A second signal exits at once.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { WorkView } from '../../src/schemas/work.js';
import { Api, type Problem } from '../e2e/api.js';
import { SseClient } from '../e2e/sse.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/** Load shedding off: a loaded machine must not turn the drain's 503 into an `overloaded` one. */
const NO_SHEDDING = { MAX_EVENT_LOOP_DELAY_MS: '0', MAX_HEAP_USED_BYTES: '0' };

const workOf = (e: Record<string, unknown>) => e['work'] as WorkView | undefined;

/** Polls /readyz until it answers 503 (the signal takes a moment to arrive). */
async function untilDraining(api: Api) {
  let ready = await api.request<{ status: string }>('GET', '/readyz');
  for (const deadline = Date.now() + 30_000; ready.status === 200 && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    ready = await api.request<{ status: string }>('GET', '/readyz');
  }
  return ready;
}

function assertShuttingDown(res: { status: number; headers: Headers; body: unknown }, what: string): void {
  assert.equal(res.status, 503, what);
  assert.match(res.headers.get('content-type')!, /^application\/problem\+json/, what);
  assert.equal((res.body as Problem).type, 'urn:tpmutex:problem:shutting-down', what);
  assert.ok(res.headers.get('retry-after'), `${what}: Retry-After`);
}

it('SIGTERM: drain (new work and mutexes refused), end every work with its terminal event, answer long-polls, close streams, exit 0', async () => {
  const server = await startServer({
    ENGINE: 'emulated', POOL_MIN_THREADS: '1', POOL_MAX_THREADS: '2', SHUTDOWN_DELAY_MS: '1500', SHUTDOWN_TIMEOUT_MS: '10000', ...NO_SHEDDING,
  });
  try {
    const api = new Api(server.baseUrl);
    await api.waitReady();
    const stream = await SseClient.open(server.baseUrl);
    const holder = await api.submitOk({ mutex: 'shutdown-a', untilSignaled: true });
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.acquired'), 60_000, 'holder acquired');
    const waiter = await api.submitOk({ mutex: 'shutdown-a', acquireTimeoutMs: 600_000 });
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.started' && workOf(e)?.id === waiter.id), 60_000, 'waiter waiting');
    // Both pool threads are busy now, so this one stays queued.
    const queued = await api.submitOk({ mutex: 'shutdown-b' });
    assert.equal((await api.work(queued.id)).body.state, 'queued');
    // A long-poll open across the shutdown answers with the final state.
    const longPoll = api.request<WorkView>('GET', `/v1/work/${holder.id}?wait=terminal&timeoutMs=120000`);
    longPoll.catch(() => undefined); // awaited below; a failure before that must not surface as an unhandled rejection

    server.requestShutdown(); // SIGTERM on POSIX; on Windows (where kill is TerminateProcess) the IPC message
    const ready = await untilDraining(api);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'draining');
    assertShuttingDown(await api.submit({ mutex: 'shutdown-c' }), 'POST /v1/work while draining');
    assertShuttingDown(await api.putMutex('shutdown-e'), 'PUT /v1/mutexes while draining');

    await stream.waitFor(() => stream.ended, 60_000, 'the stream to close');
    const terminal = (id: string) => stream.events.filter((e) => workOf(e)?.id === id && /^work\.(released|timed_out|cancelled|failed)$/.test(String(e.type)));
    const ends = [holder, waiter, queued].map((w) => terminal(w.id).map((e) => e.type));
    assert.deepEqual(ends, [['work.released'], ['work.cancelled'], ['work.cancelled']]);
    const held = workOf(terminal(holder.id)[0]!)!;
    assert.equal(held.signaled, true, 'the hold was ended, not waited out');
    assert.equal(stream.events.some((e) => workOf(e)?.mutex === 'Local\\shutdown-c'), false);
    assert.equal(stream.events.some((e) => (e['mutex'] as { name: string } | undefined)?.name === 'Local\\shutdown-e'), false);

    const polled = await longPoll;
    assert.equal(polled.status, 200);
    assert.equal(polled.body.state, 'released', 'the long-poll answered with the final state');
    assert.equal(polled.body.signaled, true);

    assert.equal(await server.exited, 0);
    assert.ok(server.logs.some((l) => l.includes('every work finished')), 'the shutdown was logged');
  } finally {
    await server.stop('SIGKILL');
  }
});

it('while draining, signal and cancel still work on running works', async () => {
  const server = await startServer({ ENGINE: 'emulated', POOL_MIN_THREADS: '2', SHUTDOWN_DELAY_MS: '5000', ...NO_SHEDDING });
  try {
    const api = new Api(server.baseUrl);
    await api.waitReady();
    const stream = await SseClient.open(server.baseUrl);
    const holder = await api.submitOk({ mutex: 'drain-a', untilSignaled: true });
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.acquired' && workOf(e)?.id === holder.id), 60_000, 'holder acquired');
    const waiter = await api.submitOk({ mutex: 'drain-a', acquireTimeoutMs: 600_000 });
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.started' && workOf(e)?.id === waiter.id), 60_000, 'waiter waiting');

    server.requestShutdown();
    assert.equal((await untilDraining(api)).status, 503);
    assert.equal((await api.cancel(waiter.id)).status, 202);
    const cancelled = await api.waitTerminal(waiter.id);
    assert.deepEqual([cancelled.state, cancelled.cancelRequested], ['cancelled', true]);
    assert.equal((await api.signal(holder.id)).status, 202);
    const released = await api.waitTerminal(holder.id);
    assert.deepEqual([released.state, released.signaled, released.cancelRequested], ['released', true, false]);
    assert.equal((await api.request<{ status: string }>('GET', '/readyz')).body.status, 'draining', 'both ended by the client during the drain delay, not by the shutdown');
    assert.equal(await server.exited, 0);
  } finally {
    await server.stop('SIGKILL');
  }
});

// POSIX signals: on Windows child.kill() is TerminateProcess, so there is no second signal to send.
it('a second signal during the drain exits at once, without waiting for the drain', { skip: process.platform === 'win32' ? 'POSIX signals only' : false }, async () => {
  const server: ServerProcess = await startServer({ ENGINE: 'emulated', SHUTDOWN_DELAY_MS: '60000', ...NO_SHEDDING });
  try {
    const api = new Api(server.baseUrl);
    await api.waitReady();
    await api.submitOk({ mutex: 'second-signal', untilSignaled: true });
    server.child.kill('SIGTERM');
    assert.equal((await untilDraining(api)).status, 503);
    const secondAt = Date.now();
    server.child.kill('SIGTERM');
    const code = await server.exited;
    assert.equal(code, 1, 'a forced exit is not a clean one');
    // The drain delay is a minute; "at once" is anything well short of it.
    assert.ok(Date.now() - secondAt < 30_000, `exited ${Date.now() - secondAt} ms after the second signal`);
    assert.ok(server.logs.some((l) => l.includes('second SIGTERM')), 'the forced exit was logged');
    assert.equal(server.logs.some((l) => l.includes('every work finished')), false);
  } finally {
    await server.stop('SIGKILL');
  }
});
