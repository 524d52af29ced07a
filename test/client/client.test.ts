/**
 * TpmutexClient end to end against a real listening service (a child process with
 * tokens on): every operation, its problems as TpmutexProblemError, the event stream
 * resuming with Last-Event-ID through a connection that is cut, and hold().
 */
import assert from 'node:assert/strict';
import { createServer, Socket, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_HOLD_LEASE_MS, LeaseLostError, TpmutexClient, TpmutexConnectionError, TpmutexProblemError, WorkNotHeldError, type EventFrame, type TpmutexEvent, type Work } from '../../src/client/index.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const TOKEN = 'client-test-token-0123456789';
let server: ServerProcess;
let client: TpmutexClient;
let unique = 0;
const name = (what: string) => `Local\\client-${what}-${process.pid}-${++unique}`;

before(async () => {
  server = await startServer({ ENGINE: 'emulated', API_TOKENS: TOKEN, SSE_HEARTBEAT_MS: '500', MAX_EVENT_LOOP_DELAY_MS: '0', POOL_MIN_THREADS: '2' });
  client = new TpmutexClient({ baseUrl: server.baseUrl, token: TOKEN });
});
after(async () => {
  assert.equal(await server.stop(), 0, server.logs.slice(-20).join('\n'));
});

async function problemOf(promise: Promise<unknown>): Promise<TpmutexProblemError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof TpmutexProblemError, `expected a TpmutexProblemError, got ${String(err)}`);
  return err;
}

describe('every operation', () => {
  it('answers health, documents, info and status', async () => {
    assert.equal((await client.getLiveness()).status, 'ok');
    assert.equal((await client.getReadiness()).status, 'ready');
    assert.match(await client.getMetrics(), /^# HELP tpmutex_/m);
    assert.match(String((await client.getOpenApi())['openapi']), /^3\./);
    assert.match(await client.getDocs(), /<html/i);
    const info = await client.getInfo();
    assert.equal(info.name, 'tpmutex');
    assert.equal(info.engine.kind, 'emulated');
    const status = await client.getStatus();
    assert.equal(status.status, 'ready');
    assert.equal(status.boot, info.boot);
  });

  it('opens, reads, lists and closes a mutex', async () => {
    const mutex = name('mutex');
    const opened = await client.openMutex(mutex);
    assert.equal(opened.name, mutex);
    assert.equal(opened.state, 'free');
    assert.equal((await client.getMutex(mutex)).name, mutex);
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listMutexes({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
      names.push(...page.items.map((m) => m.name));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    assert.ok(names.includes(mutex));
    assert.equal((await client.closeMutex(mutex)).name, mutex);
    assert.ok((await problemOf(client.getMutex(mutex))).is('mutex-not-open'));
  });

  it('submits (idempotently), lists, gets, waits for, signals and cancels work', async () => {
    const mutex = name('work');
    const holder = await client.submitWork({ mutex, untilSignaled: true, label: 'client-holder' }, { idempotencyKey: `key-${mutex}` });
    const replay = await client.submitWork({ mutex, untilSignaled: true, label: 'client-holder' }, { idempotencyKey: `key-${mutex}` });
    assert.equal(replay.id, holder.id);
    const contender = await client.submitWork({ mutex, acquireTimeoutMs: 60_000 });

    const notYet = await client.waitWork(holder.id, { timeoutMs: 50 });
    assert.ok(['queued', 'waiting', 'holding'].includes(notYet.state));
    const listed = await client.listWork({ mutex, state: ['queued', 'waiting', 'holding'] });
    assert.deepEqual(new Set(listed.items.map((w) => w.id)), new Set([holder.id, contender.id]));
    assert.equal((await client.listWork({ label: 'client-holder', mutex })).items[0]?.id, holder.id);

    assert.equal((await client.cancelWork(contender.id)).cancelRequested, true);
    assert.equal((await client.waitUntilEnded(contender.id)).state, 'cancelled');
    assert.equal((await client.signalWork(holder.id)).id, holder.id);
    const ended = await client.waitUntilEnded(holder.id);
    assert.equal(ended.state, 'released');
    assert.equal((await client.getWork(holder.id)).state, 'released');
  });

  it('renews a lease with keepaliveWork (409 lease-expired once it ran out)', async () => {
    const work = await client.submitWork({ mutex: name('keepalive'), untilSignaled: true, leaseMs: 60_000 });
    const renewed = await client.keepaliveWork(work.id, { leaseMs: 100 });
    assert.equal(renewed.leaseMs, 100);
    const ended = await client.waitUntilEnded(work.id);
    assert.equal(ended.leaseExpired, true);
    assert.ok((await problemOf(client.keepaliveWork(work.id))).is('lease-expired'));
  });

  it('reads and changes the pool limits', async () => {
    const pool = await client.getPool();
    const changed = await client.setPoolLimits({ maxThreads: pool.maxThreads + 1 });
    assert.equal(changed.maxThreads, pool.maxThreads + 1);
    assert.equal((await client.setPoolLimits({ maxThreads: pool.maxThreads })).maxThreads, pool.maxThreads);
  });
});

describe('errors', () => {
  it('throws the service\'s problems typed: type, status, detail', async () => {
    const missing = await problemOf(client.getWork('no-such-work'));
    assert.equal(missing.status, 404);
    assert.equal(missing.type, 'urn:tpmutex:problem:work-not-found');
    assert.equal(missing.slug, 'work-not-found');
    assert.ok(missing.detail.length > 0);

    const invalid = await problemOf(client.submitWork({ mutex: name('bad'), holdMs: -1 }));
    assert.equal(invalid.status, 400);
    assert.ok(invalid.is('validation'));
    assert.ok(invalid.problem?.errors?.some((e) => e.field.includes('holdMs')), JSON.stringify(invalid.problem));

    const work = await client.submitWork({ mutex: name('finished') });
    await client.waitUntilEnded(work.id);
    const finished = await problemOf(client.signalWork(work.id));
    assert.equal(finished.status, 409);
    assert.ok(finished.is('work-finished'));
    assert.ok((await problemOf(client.cancelWork(work.id))).is('work-finished'));

    const noToken = await problemOf(new TpmutexClient({ baseUrl: server.baseUrl }).getStatus());
    assert.equal(noToken.status, 401);
    assert.ok(noToken.is('unauthorized'));
  });

  it('throws TpmutexConnectionError, naming the URL and the reason, when nothing listens', async () => {
    const closed = await closedPort();
    const err = await new TpmutexClient({ baseUrl: `http://127.0.0.1:${closed}` }).getStatus().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof TpmutexConnectionError, String(err));
    assert.match(err.message, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED`));
  });
});

describe('events()', () => {
  it('resumes with Last-Event-ID when its connection is cut, without losing or repeating an event', async () => {
    const proxy = await cuttableProxy(new URL(server.baseUrl).port);
    try {
      const viaProxy = new TpmutexClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, token: TOKEN });
      const mutex = name('events');
      const stop = new AbortController();
      const seen: TpmutexEvent[] = [];
      const { events } = await client.getStatus();
      const submitted: Work[] = [await client.submitWork({ mutex })];
      for await (const frame of viaProxy.events({ mutex, after: events.lastSeq, signal: stop.signal })) {
        assert.notEqual(frame.type, 'reset', 'no event was lost');
        if (frame.type === 'overflow' || frame.type === 'reset') continue;
        seen.push(frame);
        if (frame.type !== 'work.released') continue;
        if (frame.work?.id === submitted[0]!.id) {
          proxy.cut(); // the stream breaks here: the next work's events arrive on a new connection
          submitted.push(await client.submitWork({ mutex }));
        } else {
          stop.abort();
        }
      }
      assert.equal(seen[0]?.type, 'mutex.opened');
      assert.ok(proxy.requests.length >= 2, 'it reconnected');
      const lastBeforeCut = seen.find((e) => e.type === 'work.released')!;
      const resumedFrom = proxy.requests.slice(1).map((head) => /^last-event-id: (.*)\r$/im.exec(head)?.[1]);
      assert.equal(resumedFrom[0], lastBeforeCut.id, proxy.requests.join('\n---\n'));
      const seqs = seen.map((e) => e.seq);
      assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'in order, none twice');
      assert.deepEqual(seen.filter((e) => e.work?.id === submitted[1]!.id).map((e) => e.type),
        ['work.queued', 'work.started', 'work.acquired', 'work.returned', 'work.released']);
    } finally {
      await proxy.close();
    }
  });

  it('yields a reset first for a position from another server process, then what is buffered', async () => {
    const mutex = name('reset');
    await client.openMutex(mutex);
    const frames: EventFrame[] = [];
    for await (const frame of client.events({ mutex, lastEventId: 'otherboot-7' })) {
      frames.push(frame);
      if (frame.type === 'mutex.opened') break;
    }
    assert.equal(frames[0]?.type, 'reset');
    assert.equal(frames.at(-1)?.type, 'mutex.opened');
  });

  it('throws the first connection\'s problem (a bad filter) instead of retrying', async () => {
    const err = await problemOf((async () => { for await (const _ of client.events({ work: 'x'.repeat(65) })) break; })());
    assert.equal(err.status, 400);
  });
});

describe('hold()', () => {
  it('runs fn while the service holds the mutex, then signals and waits until it is released', async () => {
    const mutex = name('hold');
    const result = await client.hold(mutex, async (work) => {
      assert.equal(work.state, 'holding');
      const seen = await client.getMutex(mutex);
      assert.equal(seen.state, 'held');
      assert.equal(seen.holder?.workId, work.id);
      return work.id;
    }, { label: 'client-hold' });
    const work = await client.getWork(result);
    assert.equal(work.state, 'released');
    assert.equal(work.signaled, true);
    assert.equal(work.leaseMs, DEFAULT_HOLD_LEASE_MS, 'a hold has a lease by default');
    assert.equal(work.leaseExpired, false);
    assert.equal((await client.getMutex(mutex)).state, 'free');
  });

  it('keeps its lease alive while fn runs, across several leases', async () => {
    const mutex = name('hold-lease');
    const leaseMs = 600;
    const id = await client.hold(mutex, async (work, lost) => {
      // fn outlasts four leases; the client's keepalives hold it.
      await new Promise((resolve) => setTimeout(resolve, 4 * leaseMs));
      assert.equal(lost.aborted, false);
      const now = await client.getWork(work.id);
      assert.equal(now.state, 'holding');
      assert.ok(BigInt(now.leaseExpiresAtNs!) > BigInt(work.leaseExpiresAtNs!), 'renewed');
      return work.id;
    }, { leaseMs });
    const work = await client.getWork(id);
    assert.equal(work.state, 'released');
    assert.equal(work.leaseExpired, false);
  });

  it('renews its lease from the submit on: a wait for a contended mutex outlasting the lease keeps the work', async () => {
    const mutex = name('hold-contended-lease');
    const holder = await client.acquire(mutex);
    const leaseMs = 600;
    let ran = false;
    const held = client.hold(mutex, (work) => { ran = true; return work.id; }, { leaseMs, acquireTimeoutMs: 120_000, label: `contended-${mutex}` });
    // The hold waits for several of its leases before the holder lets go.
    const until = Date.now() + 4 * leaseMs;
    while (Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
    const [waiting] = (await client.listWork({ mutex, label: `contended-${mutex}` })).items;
    assert.equal(waiting?.state, 'waiting');
    assert.equal(ran, false);
    await client.signalWork(holder.id);
    const id = await held;
    assert.equal(ran, true);
    const work = await client.getWork(id);
    assert.equal(work.state, 'released');
    assert.equal(work.leaseExpired, false);
  });

  it('throws LeaseLostError when the lease ran out while fn ran (its process stalled)', async () => {
    const mutex = name('hold-lost');
    const err = await client.hold(mutex, async (work, lost) => {
      await client.keepaliveWork(work.id, { leaseMs: 100 });
      // A stalled process: no timer runs, no keepalive goes out, the lease runs out.
      const until = Date.now() + 3000;
      while (Date.now() < until) { /* blocked */ }
      await new Promise((resolve) => lost.addEventListener('abort', resolve, { once: true }));
    }, { leaseMs: 300 }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof LeaseLostError, String(err));
    assert.equal(err.work.leaseExpired, true);
    assert.equal(err.work.state, 'released');
    assert.equal(err.work.signaled, false);
  });

  it('signals also when fn throws, and throws fn\'s error', async () => {
    const mutex = name('hold-throws');
    let held: Work | undefined;
    await assert.rejects(client.hold(mutex, (work) => { held = work; throw new Error('the application failed'); }), /the application failed/);
    assert.ok(held);
    const work = await client.getWork(held.id);
    assert.equal(work.state, 'released');
    assert.equal(work.signaled, true);
  });

  it('throws WorkNotHeldError when the acquire times out', async () => {
    const mutex = name('contended');
    await client.hold(mutex, async () => {
      const err = await client.acquire(mutex, { acquireTimeoutMs: 100 }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkNotHeldError, String(err));
      assert.equal(err.work.state, 'timed_out');
    });
  });

  it('cancels the work when the acquire is aborted before its answer arrived', async () => {
    const mutex = name('aborted-early');
    await client.hold(mutex, async () => {
      const stop = new AbortController();
      let submitted: Work | undefined;
      // Aborted as the submit's answer arrives, before acquire() listens for the abort:
      // the order a loaded machine gives when the caller sees work.started first.
      const waiting = client.acquire(mutex, { acquireTimeoutMs: 600_000, signal: stop.signal, onSubmitted: (work) => { submitted = work; stop.abort(); } });
      await assert.rejects(waiting);
      assert.ok(submitted);
      assert.equal((await client.waitUntilEnded(submitted.id)).state, 'cancelled');
    });
  });

  it('cancels the work when the acquire is aborted', async () => {
    const mutex = name('aborted');
    await client.hold(mutex, async () => {
      const stop = new AbortController();
      const waiting = client.acquire(mutex, { acquireTimeoutMs: 600_000, label: `aborted-${mutex}`, signal: stop.signal });
      // Abort once the contender waits for the mutex.
      for await (const frame of client.events({ mutex, types: ['work.started'], after: 0 })) {
        if (frame.type === 'work.started' && frame.work?.label === `aborted-${mutex}`) break;
      }
      stop.abort();
      await assert.rejects(waiting);
      const [contender] = (await client.listWork({ mutex, label: `aborted-${mutex}` })).items;
      assert.ok(contender);
      assert.equal((await client.waitUntilEnded(contender.id)).state, 'cancelled');
    });
  });
});

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A TCP proxy that records each request head and can cut every open connection at once. */
async function cuttableProxy(targetPort: string): Promise<{ port: number; requests: string[]; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const proxy: Server = createServer((downstream) => {
    const upstream = new Socket();
    upstream.connect(Number(targetPort), '127.0.0.1');
    sockets.add(downstream); sockets.add(upstream);
    let head = '';
    downstream.on('data', (chunk: Buffer) => {
      if (!head.includes('\r\n\r\n')) { head += chunk.toString('latin1'); if (head.includes('\r\n\r\n')) requests.push(head); }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => downstream.write(chunk));
    const end = (): void => { downstream.destroy(); upstream.destroy(); sockets.delete(downstream); sockets.delete(upstream); };
    downstream.on('close', end); upstream.on('close', end);
    downstream.on('error', end); upstream.on('error', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as { port: number }).port,
    requests,
    cut: () => { for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); proxy.close(() => resolve()); }),
  };
}

describe('semaphores, event objects and abandonment', () => {
  it('opens, reads, lists, sets and closes them; a work on a semaphore sets its event on return; abandon ends abandoned', async () => {
    const sem = name('sem');
    const ev = name('ev');
    const opened = await client.openSemaphore(sem, { initialCount: 1, maximumCount: 2 });
    assert.deepEqual([opened.name, opened.count, opened.maximumCount, opened.existed], [sem, 1, 2, false]);
    assert.equal((await client.getSemaphore(sem)).count, 1);
    assert.ok((await client.listSemaphores({ limit: 1000 })).items.some((s) => s.name === sem));
    const event = await client.openEventObject(ev, { manualReset: true });
    assert.deepEqual([event.signaled, event.manualReset], [false, true]);
    assert.equal((await client.setEventObject(ev)).signaled, true);
    assert.equal((await client.resetEventObject(ev)).signaled, false);
    assert.ok((await client.listEventObjects()).items.some((e) => e.name === ev));

    const work = await client.submitWork({ semaphore: sem, setEventOnReturn: ev, holdMs: 1 });
    assert.deepEqual(work.resource, { kind: 'semaphore', name: sem });
    const done = await client.waitUntilEnded(work.id);
    assert.equal(done.state, 'released');
    assert.deepEqual(done.actions, ['set_event', 'release_semaphore']);
    assert.equal((await client.getEventObject(ev)).signaled, true);
    assert.ok((await problemOf(client.openSemaphore(sem.replace('sem', 'bad'), { initialCount: 3, maximumCount: 2 }))).is('validation'));
    assert.ok((await problemOf(client.openEventObject(sem))).is('name-conflict'));
    await client.closeSemaphore(sem);
    await client.closeEventObject(ev);
    assert.ok((await problemOf(client.getSemaphore(sem))).is('object-not-open'));
    assert.ok((await problemOf(client.getEventObject(ev))).is('object-not-open'));

    const mutex = name('abandon');
    const abandoned = await client.abandonMutex(mutex, { acquireTimeoutMs: 10_000 }, { idempotencyKey: `abandon-${mutex}` });
    assert.equal(abandoned.operation, 'abandon');
    assert.equal((await client.waitUntilEnded(abandoned.id)).state, 'abandoned');
    const next = await client.waitUntilEnded((await client.submitWork({ mutex })).id);
    assert.equal(next.abandoned, true);
  });
});

describe('what an answer says besides its document', () => {
  it('open calls say whether they created the object (201) or it was open already (200), outside the document', async () => {
    const mutex = name('created-mutex');
    const first = await client.openMutex(mutex);
    const again = await client.openMutex(mutex);
    assert.deepEqual([first.created, again.created], [true, false]);
    assert.equal('created' in JSON.parse(JSON.stringify(first)), false, 'not in the JSON of the document');
    // The second PUT answers existed: true (it was open already); GET keeps what the first open found.
    assert.deepEqual({ ...again }, { ...(await client.getMutex(mutex)), existed: true }, 'a spread is the document as the service sent it');

    const sem = name('created-sem');
    assert.equal((await client.openSemaphore(sem, { initialCount: 0, maximumCount: 1 })).created, true);
    const existing = await client.openSemaphore(sem, { initialCount: 1, maximumCount: 5 });
    assert.deepEqual([existing.created, existing.existed, existing.maximumCount], [false, true, 1]);
    const ev = name('created-ev');
    assert.equal((await client.openEventObject(ev)).created, true);
    assert.equal((await client.openEventObject(ev, { manualReset: true })).created, false);
    await client.closeSemaphore(sem);
    await client.closeEventObject(ev);
  });

  it('submitWork and abandonMutex say when the Idempotency-Key replayed an earlier work', async () => {
    const mutex = name('replayed');
    const first = await client.submitWork({ mutex, holdMs: 1 }, { idempotencyKey: `replay-${mutex}` });
    const again = await client.submitWork({ mutex, holdMs: 1 }, { idempotencyKey: `replay-${mutex}` });
    assert.deepEqual([first.replayed, again.replayed, again.id], [false, true, first.id]);
    assert.equal((await client.submitWork({ mutex, holdMs: 1 })).replayed, false, 'no key, no replay');
    const target = name('replayed-abandon');
    const abandon = await client.abandonMutex(target, {}, { idempotencyKey: `abandon-${mutex}` });
    const replay = await client.abandonMutex(target, {}, { idempotencyKey: `abandon-${mutex}` });
    assert.deepEqual([abandon.replayed, replay.replayed, replay.id], [false, true, abandon.id]);
    await client.waitUntilEnded(abandon.id);
    await client.waitUntilEnded(first.id);
  });

  it('getStatus exposes the ETag, and with ifNoneMatch resolves undefined while nothing changed', async () => {
    let status = await client.getStatus();
    assert.match(status.etag ?? '', /^"[^"]+"$/);
    // Another test's stream may still be closing: an answer that changed is retried with its own ETag.
    let unchanged = false;
    for (let tries = 0; tries < 20 && !unchanged; tries++) {
      const next = await client.getStatus({ ifNoneMatch: status.etag! });
      if (next === undefined) unchanged = true;
      else status = next;
    }
    assert.ok(unchanged, 'a 304 for the current ETag');
    const changed = await client.getStatus({ ifNoneMatch: '"not-the-etag"' });
    assert.equal(changed?.status, 'ready');
  });
});

describe('acquireSemaphore() and holdSemaphore()', () => {
  it('hold one unit under a kept-alive lease while fn runs; a contender beyond maximumCount times out', async () => {
    const sem = name('hold-sem');
    await client.openSemaphore(sem, { initialCount: 1, maximumCount: 1 });
    const id = await client.holdSemaphore(sem, async (work) => {
      assert.deepEqual(work.resource, { kind: 'semaphore', name: sem });
      assert.equal(work.state, 'holding');
      const seen = await client.getSemaphore(sem);
      assert.deepEqual([seen.count, seen.holders.map((h) => h.workId)], [0, [work.id]]);
      const err = await client.acquireSemaphore(sem, { acquireTimeoutMs: 100 }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkNotHeldError, String(err));
      assert.equal(err.work.state, 'timed_out');
      assert.match(err.message, new RegExp(`on ${sem.replaceAll('\\', '\\\\')} ended timed_out without holding the semaphore unit`));
      return work.id;
    }, { label: 'client-hold-semaphore' });
    const work = await client.getWork(id);
    assert.deepEqual([work.state, work.signaled, work.leaseMs, work.leaseExpired], ['released', true, DEFAULT_HOLD_LEASE_MS, false]);
    assert.equal((await client.getSemaphore(sem)).count, 1, 'the unit is back');

    const held = await client.acquireSemaphore(sem, { leaseMs: 60_000 });
    assert.equal(held.state, 'holding');
    await client.signalWork(held.id);
    assert.equal((await client.waitUntilEnded(held.id)).state, 'released');
    await client.closeSemaphore(sem);
  });
});
