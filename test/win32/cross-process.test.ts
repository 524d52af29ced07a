/**
 * Cross-process suite: the service (ENGINE=win32) and a second Windows process — the
 * contender (contender.ts) — on the same named mutex. Under Wine both are node.exe in
 * one WINEPREFIX, so they share one wineserver and its named objects; on Windows they
 * are two ordinary processes. Runs from this (Linux or Windows) Node through the HTTP
 * API and the contender's control API. Every wait is on an event or a poll with a
 * deadline, never a sleep.
 *
 *   (a) while a work holds Global\X the contender cannot take it; right after
 *       work.released it can
 *   (b) while the contender holds it, GET /v1/mutexes says held, a work waits, and
 *       acquires once the contender releases
 *   (c) SIGKILL of the service while a work holds: the contender, already waiting with
 *       its handle open, gets WAIT_ABANDONED
 *   (d) the contender exits holding: the next work acquires with abandoned: true
 *   (e) graceful shutdown asked for through the service's named drain event (set by
 *       another Windows process: no signal, the path that also works on Windows) with
 *       works queued, waiting and holding: every work gets its terminal event on the
 *       open stream, the process exits 0, and the contender then takes each mutex
 *       cleanly (not abandoned: the pool released them)
 *   (f) a mutex the contender created with a security descriptor that refuses
 *       everyone (as another account's would): PUT and POST /v1/work answer 403
 *       access-denied naming it; one that grants exactly SYNCHRONIZE |
 *       MUTEX_MODIFY_STATE opens (200, existed) and a work acquires it; GET shows the
 *       kernel's own name for it
 *   (g) a name the contender created: the service reports `existed: true`
 *
 * With CI=true a harness that cannot run here fails the suite instead of skipping it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MutexView } from '../../src/schemas/mutex.js';
import type { WorkView } from '../../src/schemas/work.js';
import { Api, enc } from '../e2e/api.js';
import { SseClient } from '../e2e/sse.js';
import { SDDL_LEAST_ACCESS, SDDL_NO_ACCESS } from './sddl.js';
import { until } from '../helpers/wait.js';
import { crossProcess, runId, skip, STEP_TIMEOUT_MS, waitEvent, watch } from './cross-process-harness.js';
import type { Contender } from './windows-processes.js';

async function mutexState(api: Api, name: string): Promise<MutexView> {
  const res = await api.request<MutexView>('GET', `/v1/mutexes/${enc(name)}`);
  assert.equal(res.status, 200, res.text);
  return res.body;
}

describe('cross-process: the service and another Windows process on one named mutex', { skip }, () => {
  const run = crossProcess({ POOL_MIN_THREADS: '2', POOL_MAX_THREADS: '8', LOG_LEVEL: 'warn' });

  /** A mutex the service opened (201) and a contender then acquired. */
  const heldByContender = async (name: string): Promise<Contender> => {
    assert.equal((await run.api.putMutex(name)).status, 201);
    const c = await run.contender();
    await c.open(name);
    assert.deepEqual(await c.acquire(0), { result: 'acquired' });
    return c;
  };

  it('(a) a holding work keeps the contender out; right after work.released the contender gets it', async () => {
    const name = `Global\\tpmutex-xp-${runId}-a`;
    assert.equal((await run.api.putMutex(name)).status, 201);
    const c = await run.contender();
    assert.deepEqual(await c.open(name), { existed: true });

    const work = await run.api.submitOk({ mutex: name, untilSignaled: true });
    const stream = await watch(run.server.baseUrl, work.id);
    try {
      await waitEvent(stream, 'work.acquired');
      assert.deepEqual(await c.acquire(0), { result: 'timeout' }, 'try-once while the work holds');
      assert.deepEqual(await c.acquire(300), { result: 'timeout' }, 'a 300 ms wait while the work holds');
      const held = await mutexState(run.api, name);
      assert.equal(held.state, 'held');
      assert.equal(held.holder?.workId, work.id);

      assert.equal((await run.api.signal(work.id)).status, 202);
      await waitEvent(stream, 'work.released');
      // "released is published only after the OS mutex is really free of that work".
      assert.deepEqual(await c.acquire(0), { result: 'acquired' }, 'try-once right after work.released');
    } finally {
      stream.close();
    }
    const byContender = await mutexState(run.api, name);
    assert.equal(byContender.state, 'held', 'NtQueryMutant sees the other process own it');
    assert.equal(byContender.holder, null, 'no work of this service holds it');
    await c.release();
    assert.equal((await mutexState(run.api, name)).state, 'free');
    await c.exit(0);
  });

  it('(b) while the contender holds it: GET says held, a work waits, and acquires after the release', async () => {
    const name = `Global\\tpmutex-xp-${runId}-b`;
    const c = await heldByContender(name);

    const held = await mutexState(run.api, name);
    assert.equal(held.state, 'held');
    assert.equal(held.holder, null);

    const work = await run.api.submitOk({ mutex: name, acquireTimeoutMs: 120_000, holdMs: 0 });
    const stream = await watch(run.server.baseUrl, work.id);
    try {
      await waitEvent(stream, 'work.started');
      assert.equal((await run.api.work(work.id)).body.state, 'waiting');
      assert.equal((await mutexState(run.api, name)).waiting, 1);
      assert.equal(stream.events.some((e) => e.type === 'work.acquired'), false, 'no acquire while the contender holds');
      await c.release();
      const done = await run.api.waitTerminal(work.id);
      assert.equal(done.state, 'released');
      assert.equal(done.abandoned, false);
    } finally {
      stream.close();
    }
    await c.exit(0);
  });

  it('(d) the contender exits holding: the mutex is abandoned and the next work acquires with abandoned: true', async () => {
    const name = `Global\\tpmutex-xp-${runId}-d`;
    const c = await heldByContender(name);
    await c.exit(0); // the service's handle keeps the mutex alive: it is abandoned, not destroyed

    assert.equal((await mutexState(run.api, name)).state, 'abandoned');
    const done = await run.api.waitTerminal((await run.api.submitOk({ mutex: name })).id);
    assert.equal(done.state, 'released');
    assert.equal(done.abandoned, true);
    const after = await mutexState(run.api, name);
    assert.equal(after.state, 'free');
    assert.equal(after.counters.abandonedAcquisitions, 1);
  });

  it('(f) another account\'s mutex: 403 access-denied when it refuses us, usable when it grants the least access', async () => {
    const c = await run.contender();
    const refusing = `Local\\tpmutex-xp-${runId}-f-none`;
    const granting = `Local\\tpmutex-xp-${runId}-f-least`;
    await c.open(refusing, SDDL_NO_ACCESS);
    const denied = await run.api.request<{ type: string; status: number; detail: string }>('PUT', `/v1/mutexes/${enc(refusing)}`);
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.body.type, 'urn:tpmutex:problem:access-denied');
    assert.ok(denied.body.detail.includes(refusing), denied.body.detail);
    const work = await run.api.request<{ type: string }>('POST', '/v1/work', { body: { mutex: refusing } });
    assert.equal(work.status, 403, work.text);
    assert.equal(work.body.type, 'urn:tpmutex:problem:access-denied');

    await c.exit(0);
    const d = await run.contender();
    await d.open(granting, SDDL_LEAST_ACCESS);
    const opened = await run.api.request<MutexView>('PUT', `/v1/mutexes/${enc(granting)}`);
    assert.equal(opened.status, 200, opened.text);
    assert.equal(opened.body.existed, true);
    assert.match(opened.body.kernelName, /^\\(Sessions\\\d+\\)?BaseNamedObjects\\tpmutex-xp-/);
    assert.ok(opened.body.kernelName.endsWith(granting.slice('Local\\'.length)));
    const done = await run.api.submitOk({ mutex: granting });
    const ended = await run.api.request<WorkView>('GET', `/v1/work/${done.id}?wait=terminal&timeoutMs=${STEP_TIMEOUT_MS}`);
    assert.equal(ended.body.state, 'released', ended.text);
    assert.equal(ended.body.fencingToken, 1);
    await d.exit(0);
  });

  it('(c) SIGKILL of the service while a work holds: the waiting contender gets WAIT_ABANDONED', async () => {
    const victim = await run.startServer({ POOL_MIN_THREADS: '1', POOL_MAX_THREADS: '4', LOG_LEVEL: 'warn' });
    const victimApi = new Api(victim.baseUrl);
    const name = `Global\\tpmutex-xp-${runId}-c`;
    assert.equal((await victimApi.putMutex(name)).status, 201);
    const c = await run.contender();
    await c.open(name); // its handle stays open: the mutex outlives the service

    const work = await victimApi.submitOk({ mutex: name, untilSignaled: true });
    const stream = await watch(victim.baseUrl, work.id);
    try {
      await waitEvent(stream, 'work.acquired');
    } finally {
      stream.close();
    }
    const waited = c.acquire(120_000);
    await until('the contender to be waiting', async () => ((await c.status()).waiting ? true : undefined), STEP_TIMEOUT_MS, 50);

    await victim.stop('SIGKILL');
    assert.deepEqual(await waited, { result: 'abandoned' });
    const probe = await c.probe();
    assert.equal(probe.ownedByCaller, true);
    await c.release();
    await c.exit(0);
  });

  it('(e) graceful shutdown with works queued, waiting and holding: terminal events, exit 0, every mutex free for the contender', async () => {
    const victim = await run.startServer({ POOL_MIN_THREADS: '1', POOL_MAX_THREADS: '2', LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '10000' });
    const victimApi = new Api(victim.baseUrl);
    const held = `Global\\tpmutex-xp-${runId}-e1`;
    const other = `Global\\tpmutex-xp-${runId}-e2`;
    const c = await run.contender();
    for (const name of [held, other]) {
      assert.equal((await victimApi.putMutex(name)).status, 201);
      await c.open(name); // keeps the mutexes alive after the service exits
    }
    const stream = await SseClient.open(victim.baseUrl);
    const started = (id: string) => stream.events.some((e) => e.type === 'work.started' && (e['work'] as WorkView).id === id);
    const holder = await victimApi.submitOk({ mutex: held, untilSignaled: true });
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.acquired'), STEP_TIMEOUT_MS, 'holder acquired');
    const waiter = await victimApi.submitOk({ mutex: held, acquireTimeoutMs: 600_000 });
    await stream.waitFor(() => started(waiter.id), STEP_TIMEOUT_MS, 'waiter waiting');
    const queued = await victimApi.submitOk({ mutex: other }); // both pool threads are busy
    assert.equal((await victimApi.work(queued.id)).body.state, 'queued');

    await victim.requestShutdown();
    await stream.waitFor(() => stream.ended, STEP_TIMEOUT_MS, 'the stream to close');
    const endOf = (id: string) => stream.events.filter((e) => (e['work'] as WorkView | undefined)?.id === id && /^work\.(released|timed_out|cancelled|failed)$/.test(String(e.type))).map((e) => e.type);
    assert.deepEqual([holder, waiter, queued].map((w) => endOf(w.id)), [['work.released'], ['work.cancelled'], ['work.cancelled']]);
    assert.equal(await victim.process.exited, 0, victim.process.readLog().slice(-2000));
    const shuttingDown = victim.process.readLog().split(/\r?\n/)
      .map((line) => { try { return JSON.parse(line) as { msg?: string; signal?: string }; } catch { return {}; } })
      .find((line) => line.msg === 'shutting down');
    assert.equal(shuttingDown?.signal, `event ${victim.shutdownEvent}`, 'the drain event asked for it');
    for (const name of [held, other]) {
      await c.open(name);
      assert.deepEqual(await c.acquire(0), { result: 'acquired' }, `${name} is free, not abandoned, after the shutdown`);
      await c.release();
    }
    await c.exit(0);
  });

  it('(g) a name another process created: PUT is 200 with existed: true, and a work on such a name opens it with existed: true', async () => {
    const byPut = `Global\\tpmutex-xp-${runId}-f1`;
    const byWork = `Local\\tpmutex-xp-${runId}-f2`;
    const c = await run.contender();
    assert.deepEqual(await c.open(byPut), { existed: false }, 'the contender created it');
    assert.deepEqual(await c.open(byWork), { existed: false }, 'the contender created it');
    const put = await run.api.putMutex(byPut);
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.existed, true);
    const work = await run.api.submitOk({ mutex: byWork });
    assert.equal((await run.api.waitTerminal(work.id)).state, 'released');
    assert.equal((await mutexState(run.api, byWork)).existed, true);
    await c.exit(0);
    for (const name of [byPut, byWork]) assert.equal((await run.api.deleteMutex(name)).status, 200);
  });
});
