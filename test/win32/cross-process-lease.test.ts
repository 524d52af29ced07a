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
import { describe, it } from 'node:test';
import { crossProcess, runId, skip, waitEvent, watch } from './cross-process-harness.js';

/** The lease runs out, the pool releases, the contender wakes: on a loaded machine, this much more. */
const SLACK_MS = 30_000;

describe('cross-process: a lease that runs out frees the mutex for another Windows process', { skip }, () => {
  const run = crossProcess({ POOL_MIN_THREADS: '2', POOL_MAX_THREADS: '8', LOG_LEVEL: 'warn', ENGINE_CHECKED: 'true' });

  it('the waiting contender acquires after the lease expired, not abandoned; the work says leaseExpired', async () => {
    const { api } = run;
    const name = `Global\\tpmutex-xp-lease-${runId}`;
    assert.equal((await api.putMutex(name)).status, 201);
    const c = await run.contender();
    await c.open(name);

    const leaseMs = 2000;
    const work = await api.submitOk({ mutex: name, untilSignaled: true, leaseMs });
    const stream = await watch(run.server.baseUrl, work.id);
    try {
      await waitEvent(stream, 'work.acquired');
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
