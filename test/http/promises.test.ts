/**
 * What the README promises about operations, checked at the route level (Fastify
 * inject on the emulated engine): TRUST_PROXY, rate limits per token, Retry-After on
 * every 429, CORS preflight, the contents of /v1/status, and metric values after known
 * actions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { App } from '../../src/app.js';
import type { StatusView } from '../../src/schemas/status.js';
import type { WorkState, WorkView } from '../../src/schemas/work.js';
import { metricValue } from '../e2e/checks.js';
import { buildTestApp } from '../helpers/app.js';

const TOKEN_A = 'token-a-0123456789abcdef';
const TOKEN_B = 'token-b-0123456789abcdef';

async function submit(app: App, body: Record<string, unknown>): Promise<WorkView> {
  const res = await app.inject({ method: 'POST', url: '/v1/work', payload: body });
  assert.equal(res.statusCode, 202, res.body);
  return res.json<WorkView>();
}

/** Polls the work until it is in `state` (the engine reports asynchronously). */
async function reach(app: App, id: string, state: WorkState): Promise<void> {
  for (const deadline = Date.now() + 30_000; app.services.work.get(id).state !== state;) {
    assert.ok(Date.now() < deadline, `${id} is ${app.services.work.get(id).state}, not ${state}, after 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('TRUST_PROXY', () => {
  const fromProxy = (app: App, forwardedFor: string) =>
    app.inject({ method: 'GET', url: '/v1/info', headers: { 'x-forwarded-for': forwardedFor } });

  it('on: the client address comes from X-Forwarded-For, so per-address rate limits count each client', async (t) => {
    const app = await buildTestApp(t, { TRUST_PROXY: 'true', RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '60000' });
    assert.equal((await fromProxy(app, '203.0.113.1')).statusCode, 200);
    assert.equal((await fromProxy(app, '203.0.113.1')).statusCode, 429);
    assert.equal((await fromProxy(app, '203.0.113.2')).statusCode, 200, 'another client behind the same proxy');
  });

  it('off (default): X-Forwarded-For is ignored, every request counts against the connecting address', async (t) => {
    const app = await buildTestApp(t, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '60000' });
    assert.equal((await fromProxy(app, '203.0.113.1')).statusCode, 200);
    assert.equal((await fromProxy(app, '203.0.113.2')).statusCode, 429, 'a forged header buys no new budget');
  });
});

describe('rate limits', () => {
  it('are counted per token: one client using up its budget leaves another untouched', async (t) => {
    const app = await buildTestApp(t, { API_TOKENS: `${TOKEN_A},${TOKEN_B}`, RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' });
    const as = (token: string) => app.inject({ method: 'GET', url: '/v1/info', headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual([(await as(TOKEN_A)).statusCode, (await as(TOKEN_A)).statusCode, (await as(TOKEN_A)).statusCode], [200, 200, 429]);
    assert.deepEqual([(await as(TOKEN_B)).statusCode, (await as(TOKEN_B)).statusCode], [200, 200], 'same address, other token');
    assert.equal((await as(TOKEN_B)).statusCode, 429);
  });
});

describe('Retry-After on every 429', () => {
  const assertRetryAfter = (res: { statusCode: number; headers: Record<string, unknown>; body: string }, limit: string) => {
    assert.equal(res.statusCode, 429, `${limit}: ${res.body}`);
    assert.equal(JSON.parse(res.body).limit, limit);
    assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/, `${limit}: Retry-After in whole seconds`);
  };

  it('MAX_MUTEXES, MAX_QUEUED_WORK, MAX_QUEUED_WORK_PER_MUTEX, RATE_LIMIT_MAX and SSE_MAX_SUBSCRIBERS', async (t) => {
    const app = await buildTestApp(t, { MAX_MUTEXES: '2', MAX_QUEUED_WORK: '3', MAX_QUEUED_WORK_PER_MUTEX: '2' });
    await submit(app, { mutex: 'a', untilSignaled: true });
    await submit(app, { mutex: 'a', untilSignaled: true });
    assertRetryAfter(await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'a' } }), 'MAX_QUEUED_WORK_PER_MUTEX');
    await submit(app, { mutex: 'b', untilSignaled: true });
    assertRetryAfter(await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'b' } }), 'MAX_QUEUED_WORK');
    assertRetryAfter(await app.inject({ method: 'PUT', url: '/v1/mutexes/c' }), 'MAX_MUTEXES');

    const limited = await buildTestApp(t, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '60000' });
    await limited.inject({ method: 'GET', url: '/v1/info' });
    assertRetryAfter(await limited.inject({ method: 'GET', url: '/v1/info' }), 'RATE_LIMIT_MAX');

    const streams = await buildTestApp(t, { SSE_MAX_SUBSCRIBERS: '1' });
    await streams.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(streams.server.address() as { port: number }).port}`;
    const first = new AbortController();
    assert.equal((await fetch(`${base}/v1/events`, { signal: first.signal })).status, 200);
    const second = await fetch(`${base}/v1/events`);
    assertRetryAfter({ statusCode: second.status, headers: Object.fromEntries(second.headers), body: await second.text() }, 'SSE_MAX_SUBSCRIBERS');
    first.abort();
  });
});

describe('CORS', () => {
  it('answers a preflight from an allowed origin (without a token, even when tokens are required), and not from others', async (t) => {
    const app = await buildTestApp(t, { CORS_ORIGINS: 'https://dash.example', API_TOKENS: TOKEN_A });
    const preflight = (origin: string) => app.inject({
      method: 'OPTIONS', url: '/v1/work',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
    });
    const ok = await preflight('https://dash.example');
    assert.equal(ok.statusCode, 204);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://dash.example');
    assert.match(String(ok.headers['access-control-allow-methods']), /\bPOST\b/);
    const allowed = String(ok.headers['access-control-allow-headers']).toLowerCase().split(/\s*,\s*/);
    for (const header of ['authorization', 'content-type', 'idempotency-key']) assert.ok(allowed.includes(header), `${header} in ${allowed.join(',')}`);
    assert.match(String(ok.headers['vary']), /origin/i);
    const other = await preflight('https://evil.example');
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });
});

describe('/v1/status', () => {
  it('reports lifecycle, engine, works by state and totals, held mutexes with holder and waiters, pool and event position', async (t) => {
    const app = await buildTestApp(t, { POOL_MIN_THREADS: '2', POOL_MAX_THREADS: '4' });
    const holder = await submit(app, { mutex: 'Global\\dash', untilSignaled: true });
    await reach(app, holder.id, 'holding');
    const waiter = await submit(app, { mutex: 'Global\\dash' });
    await reach(app, waiter.id, 'waiting');
    const done = await submit(app, { mutex: 'other', acquireTimeoutMs: 0 });
    await reach(app, done.id, 'released');
    const status = (await app.inject({ method: 'GET', url: '/v1/status' })).json<StatusView>();
    const info = (await app.inject({ method: 'GET', url: '/v1/info' })).json<{ boot: string }>();
    assert.equal(status.status, 'ready');
    assert.equal(status.boot, info.boot);
    assert.deepEqual(status.engine, { kind: 'emulated', nameScope: 'process', healthy: true });
    assert.deepEqual(status.works, { queued: 0, waiting: 1, holding: 1, submitted: 3, finished: { released: 1, abandoned: 0, timed_out: 0, cancelled: 0, failed: 0 } });
    assert.equal(status.mutexes.open, 2);
    assert.equal(status.mutexes.held.length, 1);
    const held = status.mutexes.held[0]!;
    assert.deepEqual({ ...held, since: undefined, threadId: undefined },
      { name: 'Global\\dash', workId: holder.id, fencingToken: 1, waiting: 1, queued: 0, since: undefined, threadId: undefined });
    assert.equal(held.threadId, app.services.work.get(holder.id).threadId);
    assert.equal(held.since, app.services.work.get(holder.id).acquiredAt);
    const pool = status.pool as { minThreads: number; maxThreads: number };
    assert.deepEqual([pool.minThreads, pool.maxThreads], [2, 4]);
    assert.equal(status.events.lastSeq, app.services.events.lastSeq);
    assert.equal(status.events.subscribers, 0);
    await app.inject({ method: 'POST', url: `/v1/work/${holder.id}/signal` });
    await reach(app, waiter.id, 'released');
    const after = (await app.inject({ method: 'GET', url: '/v1/status' })).json<StatusView>();
    assert.deepEqual(after.mutexes.held, []);
    assert.deepEqual(after.works.finished, { released: 3, abandoned: 0, timed_out: 0, cancelled: 0, failed: 0 });
  });
});

describe('metric values after known actions', () => {
  it('works_unfinished, mutexes_held and limit_exceeded_total count exactly what happened', async (t) => {
    const app = await buildTestApp(t, { MAX_QUEUED_WORK_PER_MUTEX: '2', POOL_MIN_THREADS: '2' });
    const metrics = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const before = await metrics();
    assert.equal(metricValue(before, 'tpmutex_mutexes_held'), 0);
    assert.equal(metricValue(before, 'tpmutex_limit_exceeded_total'), undefined, 'no limit was hit yet');

    const holder = await submit(app, { mutex: 'm', untilSignaled: true });
    await reach(app, holder.id, 'holding');
    const waiter = await submit(app, { mutex: 'm' });
    await reach(app, waiter.id, 'waiting');
    for (let i = 0; i < 2; i++) assert.equal((await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'm' } })).statusCode, 429);
    const busy = await metrics();
    assert.equal(metricValue(busy, 'tpmutex_works_unfinished', { state: 'holding' }), 1);
    assert.equal(metricValue(busy, 'tpmutex_works_unfinished', { state: 'waiting' }), 1);
    assert.equal(metricValue(busy, 'tpmutex_works_unfinished', { state: 'queued' }), 0);
    assert.equal(metricValue(busy, 'tpmutex_mutexes_held'), 1);
    assert.equal(metricValue(busy, 'tpmutex_limit_exceeded_total', { limit: 'MAX_QUEUED_WORK_PER_MUTEX' }), 2);

    await app.inject({ method: 'POST', url: `/v1/work/${holder.id}/signal` });
    await reach(app, waiter.id, 'released');
    const idle = await metrics();
    assert.equal(metricValue(idle, 'tpmutex_works_unfinished'), 0);
    assert.equal(metricValue(idle, 'tpmutex_mutexes_held'), 0);
    assert.equal(metricValue(idle, 'tpmutex_works_finished_total', { state: 'released' }), 2);
    assert.equal(metricValue(idle, 'tpmutex_invariant_violations_total'), 0);
  });
});
