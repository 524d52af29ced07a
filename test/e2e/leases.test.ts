/**
 * Leases end to end (issue 15), on whichever engine the target runs (the emulated one
 * here, the win32 one under Wine: test/win32/wine.ts runs this directory): a lease
 * that runs out ends the hold as its own outcome, keepalives extend it, a streaming
 * keepalive holds across several leases, and a harness killed while holding frees the
 * mutex within its lease. Timing bounds are generous: the machine may be loaded.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { WorkView } from '../../src/schemas/work.js';
import { enc, uniqueName, type Api, type Problem } from './api.js';
import { SseClient } from './sse.js';
import { useTarget } from './target.js';

const target = useTarget();
/** A lease runs out, the service ends the work: on a loaded machine, give it this much more. */
const SLACK_MS = 30_000;

async function reach(baseUrl: string, id: string, type: string): Promise<void> {
  const stream = await SseClient.open(baseUrl, `/v1/events?work=${enc(id)}&after=0`);
  try {
    await stream.waitFor(() => stream.events.some((e) => e.type === type), 60_000, `${id} ${type}`);
  } finally {
    stream.close();
  }
}

/** The types of a work's events, in order (it has ended). */
async function eventTypes(baseUrl: string, id: string, last: string): Promise<string[]> {
  const stream = await SseClient.open(baseUrl, `/v1/events?work=${enc(id)}&after=0`);
  try {
    await stream.waitFor(() => stream.events.some((e) => e.type === last), 60_000, `${id} ${last}`);
    return stream.events.map((e) => String(e.type));
  } finally {
    stream.close();
  }
}

const keepalive = (api: Api, id: string, body?: Record<string, unknown>) =>
  api.request<WorkView & Problem>('POST', `/v1/work/${enc(id)}/keepalive`, body === undefined ? {} : { body });

describe('leases', () => {
  it('refuses a lease above MAX_LEASE_MS (400) and shows the lease on the work', async () => {
    const { api } = target;
    const info = (await api.request<{ limits: Record<string, number> }>('GET', '/v1/info')).body;
    const max = info.limits['maxLeaseMs']!;
    assert.ok(max >= 100);
    const refused = await api.submit({ mutex: uniqueName('lease-max'), leaseMs: max + 1 });
    assert.equal(refused.status, 400);
    assert.ok((refused.body as unknown as Problem).errors?.some((e) => e.field === 'body/leaseMs'), refused.text);
    assert.equal((await api.submit({ mutex: uniqueName('lease-min'), leaseMs: 5 })).status, 400);

    const w = await api.submitOk({ mutex: uniqueName('lease-shown'), untilSignaled: true, leaseMs: 60_000 });
    assert.equal(w.leaseMs, 60_000);
    assert.equal(w.request.leaseMs, 60_000);
    assert.equal(w.leaseExpired, false);
    assert.ok(w.leaseExpiresAt !== null && w.leaseExpiresAtNs !== null);
    assert.ok(BigInt(w.leaseExpiresAtNs) > BigInt(w.queuedAtNs!));
    await api.request('POST', `/v1/work/${enc(w.id)}/signal`);
    const done = await api.waitTerminal(w.id);
    assert.equal(done.state, 'released');
    assert.equal(done.signaled, true);
    assert.equal(done.leaseExpired, false);
  });

  it('a hold whose lease runs out ends as lease expiry (not a signal), work.lease_expired before released; a late keepalive is 409', async () => {
    const { api, baseUrl } = target;
    const name = uniqueName('lease-expire');
    const w = await api.submitOk({ mutex: name, untilSignaled: true, leaseMs: 1000 });
    const done = await api.waitTerminal(w.id, 1000 + SLACK_MS + 30_000);
    assert.equal(done.state, 'released');
    assert.equal(done.leaseExpired, true);
    assert.equal(done.signaled, false);
    assert.equal(done.cancelRequested, false);
    assert.ok(BigInt(done.releasedAtNs!) >= BigInt(done.leaseExpiresAtNs!), 'released after the lease ran out');
    const types = await eventTypes(baseUrl, w.id, 'work.released');
    const expired = types.indexOf('work.lease_expired');
    assert.ok(expired >= 0 && expired < types.indexOf('work.returned'), types.join(' '));
    const late = await keepalive(api, w.id);
    assert.equal(late.status, 409);
    assert.equal(late.body.type, 'urn:tpmutex:problem:lease-expired');
    // The mutex is free: the next work acquires it at once.
    const next = await api.waitTerminal((await api.submitOk({ mutex: name, acquireTimeoutMs: 0 })).id);
    assert.equal(next.state, 'released');
  });

  it('a waiting work whose lease runs out is cancelled by the service (leaseExpired, not cancelRequested)', async () => {
    const { api, baseUrl } = target;
    const name = uniqueName('lease-wait');
    const holder = await api.submitOk({ mutex: name, untilSignaled: true });
    await reach(baseUrl, holder.id, 'work.acquired');
    const waiter = await api.submitOk({ mutex: name, untilSignaled: true, acquireTimeoutMs: 600_000, leaseMs: 500 });
    const done = await api.waitTerminal(waiter.id, 500 + SLACK_MS + 30_000);
    assert.equal(done.state, 'cancelled');
    assert.equal(done.leaseExpired, true);
    assert.equal(done.cancelRequested, false);
    assert.equal((await api.work(holder.id)).body.state, 'holding');
    await api.request('POST', `/v1/work/${enc(holder.id)}/signal`);
    await api.waitTerminal(holder.id);
  });

  it('keepalives extend the lease past several leases; the hold ends by signal, not expiry', async () => {
    const { api, baseUrl } = target;
    const leaseMs = 3000;
    const w = await api.submitOk({ mutex: uniqueName('lease-renew'), untilSignaled: true, leaseMs });
    await reach(baseUrl, w.id, 'work.acquired');
    const began = Date.now();
    let last = BigInt(w.leaseExpiresAtNs!);
    // Renew every 300 ms for three leases' worth of time: each answer moves the expiry later.
    while (Date.now() - began < 3 * leaseMs) {
      const res = await keepalive(api, w.id);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.state, 'holding');
      const expires = BigInt(res.body.leaseExpiresAtNs!);
      assert.ok(expires >= last, 'the expiry never moves earlier');
      last = expires;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(last > BigInt(w.leaseExpiresAtNs!));
    assert.equal((await api.work(w.id)).body.state, 'holding');
    await api.request('POST', `/v1/work/${enc(w.id)}/signal`);
    const done = await api.waitTerminal(w.id);
    assert.equal(done.leaseExpired, false);
    assert.equal(done.signaled, true);
    const gone = await keepalive(api, w.id);
    assert.equal(gone.status, 409);
    assert.equal(gone.body.type, 'urn:tpmutex:problem:work-finished');
  });

  it('a keepalive with leaseMs adds a lease to a work without one; without leaseMs it is 400', async () => {
    const { api } = target;
    const w = await api.submitOk({ mutex: uniqueName('lease-add'), untilSignaled: true });
    assert.equal(w.leaseMs, null);
    const none = await keepalive(api, w.id);
    assert.equal(none.status, 400);
    const tooLong = await keepalive(api, w.id, { leaseMs: 2_147_483_646 });
    assert.equal(tooLong.status, 400);
    const added = await keepalive(api, w.id, { leaseMs: 500 });
    assert.equal(added.status, 200, added.text);
    assert.equal(added.body.leaseMs, 500);
    const done = await api.waitTerminal(w.id, 500 + SLACK_MS + 30_000);
    assert.equal(done.leaseExpired, true);
    assert.equal(done.state, 'released');
    assert.equal((await keepalive(api, 'nope.1')).status, 404);
  });

  it('a streaming keepalive holds across several leases; dropping it ends the hold', async () => {
    const { api, baseUrl } = target;
    const leaseMs = 600;
    const w = await api.submitOk({ mutex: uniqueName('lease-stream'), untilSignaled: true, leaseMs });
    await reach(baseUrl, w.id, 'work.acquired');
    const controller = new AbortController();
    const res = await fetch(`${baseUrl}/v1/work/${enc(w.id)}/keepalive?stream=true`, { method: 'POST', signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /application\/x-ndjson/);
    const lines = ndjson(res.body!);
    const began = Date.now();
    let heartbeats = 0;
    // Held for four leases' worth of time by the stream alone.
    while (Date.now() - began < 4 * leaseMs) {
      const line = await lines.next();
      assert.equal(line.done, false);
      const value = line.value as { type: string; workId: string; state: string };
      assert.equal(value.type, 'heartbeat', JSON.stringify(value));
      assert.equal(value.workId, w.id);
      heartbeats++;
    }
    assert.ok(heartbeats >= 4);
    assert.equal((await api.work(w.id)).body.state, 'holding');
    assert.equal((await api.work(w.id)).body.leaseExpired, false);
    const dropped = Date.now();
    controller.abort();
    const done = await api.waitTerminal(w.id, leaseMs + SLACK_MS + 30_000);
    assert.equal(done.state, 'released');
    assert.equal(done.leaseExpired, true);
    assert.ok(Date.now() - dropped < leaseMs + SLACK_MS, 'ended within the lease (plus slack) of the drop');
  });

  it('a streaming keepalive ends with an `ended` line when the work ends', async () => {
    const { api, baseUrl } = target;
    const w = await api.submitOk({ mutex: uniqueName('lease-stream-end'), untilSignaled: true, leaseMs: 60_000 });
    await reach(baseUrl, w.id, 'work.acquired');
    const res = await fetch(`${baseUrl}/v1/work/${enc(w.id)}/keepalive?stream=true`, { method: 'POST' });
    const lines = ndjson(res.body!);
    assert.equal(((await lines.next()).value as { type: string }).type, 'heartbeat');
    await api.request('POST', `/v1/work/${enc(w.id)}/signal`);
    let last: { type: string; work?: WorkView } | undefined;
    for await (const line of lines) last = line as typeof last;
    assert.equal(last?.type, 'ended');
    assert.equal(last?.work?.state, 'released');
  });

  it('a harness SIGKILLed while holding: the mutex is free after its lease ran out, within leaseMs plus slack', async () => {
    const { api, baseUrl } = target;
    const name = uniqueName('lease-kill');
    const leaseMs = 2000;
    const holder = spawn(process.execPath, [fileURLToPath(new URL('./lease-holder.js', import.meta.url)), baseUrl, name, String(leaseMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const heldLine = await firstLine(holder.stdout!);
    const workId = /^held (\S+)$/.exec(heldLine)?.[1];
    assert.ok(workId, heldLine);
    assert.equal((await api.work(workId).then((r) => r.body)).state, 'holding');
    holder.kill('SIGKILL');
    const killed = Date.now();
    const contender = await api.submitOk({ mutex: name, acquireTimeoutMs: leaseMs + SLACK_MS + 30_000 });
    const got = await api.waitTerminal(contender.id, leaseMs + SLACK_MS + 60_000);
    assert.equal(got.state, 'released', JSON.stringify(got));
    assert.equal(got.abandoned, false);
    assert.ok(Date.now() - killed < leaseMs + SLACK_MS, `freed ${Date.now() - killed} ms after the kill`);
    const held = (await api.work(workId)).body;
    assert.equal(held.leaseExpired, true);
    assert.equal(held.signaled, false);
    assert.ok(BigInt(got.acquiredAtNs!) >= BigInt(held.leaseExpiresAtNs!), 'acquired only after the lease ran out');
  });

  it('status and metrics count leased works and expired leases', async () => {
    const { api } = target;
    const before = (await api.request<{ leases: { active: number; expired: number } }>('GET', '/v1/status')).body.leases;
    const w = await api.submitOk({ mutex: uniqueName('lease-count'), untilSignaled: true, leaseMs: 60_000 });
    const during = (await api.request<{ leases: { active: number; expired: number } }>('GET', '/v1/status')).body.leases;
    assert.ok(during.active >= 1);
    assert.match(await api.metrics(), /^tpmutex_works_leased [1-9]/m);
    await keepalive(api, w.id, { leaseMs: 100 });
    await api.waitTerminal(w.id);
    const after = (await api.request<{ leases: { active: number; expired: number } }>('GET', '/v1/status')).body.leases;
    assert.ok(after.expired >= before.expired + 1);
    const expirations = /^tpmutex_lease_expirations_total (\d+)/m.exec(await api.metrics());
    assert.ok(expirations && Number(expirations[1]) >= after.expired, 'counted in /metrics');
  });
});

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  for await (const line of createInterface({ input: stream })) return line;
  throw new Error('the harness exited before holding');
}

/** The JSON values of an NDJSON body, line by line. */
async function* ndjson(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() !== '') yield JSON.parse(line);
    }
  }
}
