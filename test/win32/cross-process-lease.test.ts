/**
 * Leases across processes (docs/design.md §3.1): the service (ENGINE=win32) holds a
 * named mutex under a lease nobody renews; a second Windows process (contender.ts),
 * already waiting for the mutex with its own handle, acquires it once the lease ran out,
 * and not abandoned: the pool released it as for a signal. Under Wine both are node.exe
 * in one WINEPREFIX (test/win32/wine.ts runs this in its cross-process suite).
 *
 * With CI=true a harness that cannot run here fails the suite instead of skipping it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Api } from '../e2e/api.js';
import { SseClient } from '../e2e/sse.js';
import { startServer, type WindowsServerProcess } from '../helpers/server-process.js';
import { Contender } from './windows-processes.js';
import { provision, skipIsFailure, unavailableReason, type WindowsNode } from './wine-env.js';

const unavailable = unavailableReason();
const skip = unavailable !== undefined && !skipIsFailure() ? unavailable : false;
const runId = `${process.pid}-${Date.now().toString(36)}`;
/** The lease runs out, the pool releases, the contender wakes: on a loaded machine, this much more. */
const SLACK_MS = 30_000;

describe('cross-process: a lease that runs out frees the mutex for another Windows process', { skip }, () => {
  let node: WindowsNode;
  let server: WindowsServerProcess;
  let api: Api;
  const contenders: Contender[] = [];

  before(async () => {
    if (unavailable !== undefined) throw new Error(`the Windows harness cannot run here: ${unavailable} (CI=true: a failure, not a skip)`);
    node = provision(() => undefined);
    server = await startServer({ POOL_MIN_THREADS: '2', POOL_MAX_THREADS: '8', LOG_LEVEL: 'warn', ENGINE_CHECKED: 'true' }, { windows: node });
    api = new Api(server.baseUrl);
  });

  after(async () => {
    for (const c of contenders) c.kill();
    await server?.stop();
  });

  it('the waiting contender acquires after the lease expired, not abandoned; the work says leaseExpired', async () => {
    const name = `Global\\tpmutex-xp-lease-${runId}`;
    assert.equal((await api.putMutex(name)).status, 201);
    const c = await Contender.start(node);
    contenders.push(c);
    await c.open(name);

    const leaseMs = 2000;
    const work = await api.submitOk({ mutex: name, untilSignaled: true, leaseMs });
    const stream = await SseClient.open(server.baseUrl, `/v1/events?work=${encodeURIComponent(work.id)}&after=0`);
    try {
      await stream.waitFor(() => stream.events.some((e) => e.type === 'work.acquired'), 60_000, 'work.acquired');
    } finally {
      stream.close();
    }
    assert.deepEqual(await c.acquire(0), { result: 'timeout' }, 'held by the leased work');
    const began = Date.now();
    assert.deepEqual(await c.acquire(leaseMs + SLACK_MS + 30_000), { result: 'acquired' }, 'acquired once the lease ran out, not abandoned');
    assert.ok(Date.now() - began < leaseMs + SLACK_MS, `acquired ${Date.now() - began} ms after it began waiting`);
    const done = await api.waitTerminal(work.id);
    assert.equal(done.state, 'released');
    assert.equal(done.leaseExpired, true);
    assert.equal(done.signaled, false);
    await c.release();
    await c.exit(0);
  });
});
