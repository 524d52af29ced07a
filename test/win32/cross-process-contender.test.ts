/**
 * The contender's own control API for semaphores, events and abandonment (contender.ts),
 * between two Windows processes: what the HTTP-level cross-process tests build on. Two
 * contenders in one WINEPREFIX (one wineserver, one namespace) share the objects: a
 * semaphore's units, an event one sets and the other waits for, and a mutex one exits
 * owning, which the other then gets with WAIT_ABANDONED. Run by `npm run test:win32`
 * (suite cross-process) from Linux Node, or natively on Windows.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { crossProcess, runId, skip } from './cross-process-harness.js';
import type { Contender } from './windows-processes.js';

const WAIT_MS = 60_000;

describe('cross-process: the contender\'s semaphores, events and WAIT_ABANDONED', { skip }, () => {
  const run = crossProcess(null);
  let a: Contender;
  let b: Contender;

  before(async () => {
    [a, b] = await Promise.all([run.contender(), run.contender()]);
  });

  it('semaphore units are shared: taken by one process, counted and given back across both', async () => {
    const name = `Local\\tpmutex-xp-sem-${runId}`;
    assert.deepEqual(await a.openSemaphore(name, 1, 2), { existed: false });
    assert.deepEqual(await b.openSemaphore(name, 0, 9), { existed: true });
    assert.deepEqual(await b.probeSemaphore(name), { kind: 'semaphore', count: 1, maximumCount: 2 }, 'the object keeps its own counts');
    assert.deepEqual(await a.acquire(WAIT_MS, name), { result: 'acquired' });
    assert.deepEqual(await b.acquire(0, name), { result: 'timeout' });
    const waiting = b.acquire(WAIT_MS, name);
    assert.equal((await a.release(name)).previousCount, 0);
    assert.deepEqual(await waiting, { result: 'acquired' });
    assert.equal((await b.release(name)).previousCount, 0);
    assert.deepEqual(await a.probeSemaphore(name), { kind: 'semaphore', count: 1, maximumCount: 2 });
  });

  it('an event set by one process wakes the other\'s wait; reset and probe see the same object', async () => {
    const name = `Local\\tpmutex-xp-ev-${runId}`;
    await a.openEvent(name, true, false);
    await b.openEvent(name, false, true);
    assert.deepEqual(await b.probeEvent(name), { kind: 'event', signaled: false, manualReset: true });
    assert.deepEqual(await b.wait(name, 0), { result: 'timeout' });
    const waiting = b.wait(name, WAIT_MS);
    await a.setEvent(name);
    assert.deepEqual(await waiting, { result: 'signaled' });
    assert.deepEqual(await a.probeEvent(name), { kind: 'event', signaled: true, manualReset: true });
    await b.resetEvent(name);
    assert.deepEqual(await a.probeEvent(name), { kind: 'event', signaled: false, manualReset: true });
  });

  it('a mutex whose owner process exits is abandoned: the other gets WAIT_ABANDONED and owns it', async () => {
    const name = `Local\\tpmutex-xp-ab-${runId}`;
    await a.open(name);
    await b.open(name);
    assert.deepEqual(await a.acquire(WAIT_MS, name), { result: 'acquired' });
    const waiting = b.acquire(WAIT_MS, name);
    await a.exit(0);
    assert.deepEqual(await waiting, { result: 'abandoned' });
    const probe = await b.probe(name);
    assert.equal(probe.ownedByCaller, true);
    assert.equal(probe.currentCount, 0);
    await b.release(name);
    assert.equal((await b.probe(name)).currentCount, 1);
  });
});
