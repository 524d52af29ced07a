/**
 * Graceful shutdown of a real server process (DESIGN §4.5): SIGTERM with works queued,
 * waiting and holding. During the drain delay readyz is 503 and new work is refused;
 * then queued work is cancelled, the wait aborted, the hold ended, every work gets its
 * terminal event on the open stream before it closes, and the process exits 0.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { WorkView } from '../../src/schemas/work.js';
import { Api } from '../e2e/api.js';
import { SseClient } from '../e2e/sse.js';
import { startServer } from '../helpers/server-process.js';

it('SIGTERM: drain, end every work with its terminal event, close streams, exit 0', async () => {
  const server = await startServer({ ENGINE: 'emulated', POOL_MIN_THREADS: '1', POOL_MAX_THREADS: '2', SHUTDOWN_DELAY_MS: '1500', SHUTDOWN_TIMEOUT_MS: '10000' });
  try {
    const api = new Api(server.baseUrl);
    await api.waitReady();
    const stream = await SseClient.open(server.baseUrl);
    const holder = await api.submitOk({ mutex: 'shutdown-a', untilSignaled: true });
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.acquired'), 60_000, 'holder acquired');
    const waiter = await api.submitOk({ mutex: 'shutdown-a', acquireTimeoutMs: 600_000 });
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.started' && (e['work'] as WorkView).id === waiter.id), 60_000, 'waiter waiting');
    // Both pool threads are busy now, so this one stays queued.
    const queued = await api.submitOk({ mutex: 'shutdown-b' });
    assert.equal((await api.work(queued.id)).body.state, 'queued');

    server.requestShutdown(); // SIGTERM on POSIX; on Windows (where kill is TerminateProcess) the IPC message
    // The drain delay: still answering, but not ready and not taking new work. The
    // signal takes a moment to arrive, so poll readiness until it flips.
    let ready = await api.request<{ status: string }>('GET', '/readyz');
    for (const deadline = Date.now() + 30_000; ready.status === 200 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ready = await api.request<{ status: string }>('GET', '/readyz');
    }
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'draining');
    const refused = await api.submit({ mutex: 'shutdown-c' });
    assert.equal(refused.status, 503);
    assert.match(refused.headers.get('content-type')!, /^application\/problem\+json/);

    await stream.waitFor(() => stream.ended, 60_000, 'the stream to close');
    const terminal = (id: string) => stream.events.filter((e) => (e['work'] as WorkView | undefined)?.id === id && /^work\.(released|timed_out|cancelled|failed)$/.test(String(e.type)));
    const ends = [holder, waiter, queued].map((w) => terminal(w.id).map((e) => e.type));
    assert.deepEqual(ends, [['work.released'], ['work.cancelled'], ['work.cancelled']]);
    const held = terminal(holder.id)[0]!['work'] as WorkView;
    assert.equal(held.signaled, true, 'the hold was ended, not waited out');
    assert.equal(stream.events.some((e) => (e['work'] as WorkView | undefined)?.mutex === 'Local\\shutdown-c'), false);
    assert.equal(await server.exited, 0);
    assert.ok(server.logs.some((l) => l.includes('every work finished')), 'the shutdown was logged');
  } finally {
    await server.stop('SIGKILL');
  }
});
