/**
 * Operations and safety at the route level (Fastify inject): authentication, name
 * policy, limits, status polling with ETag, metrics, security headers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkView } from '../../src/schemas/work.js';
import { buildTestApp } from '../helpers/app.js';

const TOKEN = 'test-token-0123456789abcdef';

describe('authentication', () => {
  it('with tokens configured, every API route needs one; livez/readyz stay open by default', async (t) => {
    const app = await buildTestApp(t, { API_TOKENS: `${TOKEN},another-token-0123456789` });
    const missing = await app.inject({ method: 'GET', url: '/v1/info' });
    assert.equal(missing.statusCode, 401);
    assert.match(String(missing.headers['content-type']), /^application\/problem\+json/);
    assert.match(String(missing.headers['www-authenticate']), /^Bearer/);
    const wrong = await app.inject({ method: 'GET', url: '/v1/info', headers: { authorization: 'Bearer not-the-right-token-at-all' } });
    assert.equal(wrong.statusCode, 401);
    assert.match(String(wrong.headers['www-authenticate']), /invalid_token/);
    const ok = await app.inject({ method: 'GET', url: '/v1/info', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/livez' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    const refused = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'x' } });
    assert.equal(refused.statusCode, 401);
    const none = await app.inject({ method: 'GET', url: '/v1/mutexes', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.deepEqual(none.json<{ items: unknown[] }>().items, [], 'a refused request changed nothing');
  });

  it('AUTH_OPEN_PATHS can leave /metrics open', async (t) => {
    const app = await buildTestApp(t, { API_TOKENS: TOKEN, AUTH_OPEN_PATHS: '/livez,/readyz,/metrics' });
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
  });

  it('without tokens there is no authentication (the config allows loopback only)', async (t) => {
    const app = await buildTestApp(t);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/info' })).statusCode, 200);
  });
});

describe('name policy', () => {
  it('MUTEX_ALLOW and MUTEX_GLOBAL=false refuse names with 403, changing nothing', async (t) => {
    const app = await buildTestApp(t, { MUTEX_ALLOW: 'Local\\ci-*,Global\\ci-*', MUTEX_GLOBAL: 'false' });
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/mutexes/ci-1' })).statusCode, 201);
    for (const [method, url, payload] of [
      ['PUT', '/v1/mutexes/other', undefined],
      ['POST', '/v1/work', { mutex: 'other' }],
      ['PUT', '/v1/mutexes/Global%5Cci-2', undefined],
      ['POST', '/v1/work', { mutex: 'Global\\ci-3' }],
    ] as const) {
      const res = await app.inject({ method, url, ...(payload ? { payload } : {}) });
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    }
    const names = (await app.inject({ method: 'GET', url: '/v1/mutexes' })).json<{ items: { name: string }[] }>().items.map((m) => m.name);
    assert.deepEqual(names, ['Local\\ci-1']);
  });
});

describe('name policy across kinds', () => {
  it('OBJECT_ALLOW and OBJECT_GLOBAL=false refuse semaphore, event-object and abandon names alike, naming the variable', async (t) => {
    const app = await buildTestApp(t, { OBJECT_ALLOW: 'Local\\ci-*,Global\\ci-*', OBJECT_GLOBAL: 'false' });
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/semaphores/ci-s' })).statusCode, 201);
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/event-objects/ci-e' })).statusCode, 201);
    for (const [method, url, variable] of [
      ['PUT', '/v1/semaphores/other', 'OBJECT_ALLOW'],
      ['PUT', '/v1/event-objects/other', 'OBJECT_ALLOW'],
      ['PUT', '/v1/semaphores/Global%5Cci-2', 'OBJECT_GLOBAL'],
      ['PUT', '/v1/event-objects/Global%5Cci-3', 'OBJECT_GLOBAL'],
      ['POST', '/v1/mutexes/other/abandon', 'OBJECT_ALLOW'],
      ['PUT', '/v1/mutexes/other', 'OBJECT_ALLOW'],
    ] as const) {
      const res = await app.inject({ method, url });
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.match(res.json<{ detail: string }>().detail, new RegExp(variable), `${method} ${url}`);
    }
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/semaphores' })).json<{ items: { name: string }[] }>().items.map((s) => s.name), ['Local\\ci-s']);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/event-objects' })).json<{ items: { name: string }[] }>().items.map((s) => s.name), ['Local\\ci-e']);
  });

  it('the old MUTEX_ALLOW still applies to every kind and is named in the refusal', async (t) => {
    const app = await buildTestApp(t, { MUTEX_ALLOW: 'Local\\ci-*' });
    const res = await app.inject({ method: 'PUT', url: '/v1/semaphores/other' });
    assert.equal(res.statusCode, 403);
    assert.match(res.json<{ detail: string }>().detail, /MUTEX_ALLOW/);
  });
});

describe('limits', () => {
  it('MAX_SEMAPHORES and MAX_EVENT_OBJECTS: one too many is 429 naming the limit, and opens nothing', async (t) => {
    const app = await buildTestApp(t, { MAX_SEMAPHORES: '1', MAX_EVENT_OBJECTS: '1' });
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/semaphores/s1' })).statusCode, 201);
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/event-objects/e1' })).statusCode, 201);
    for (const [url, limit] of [['/v1/semaphores/s2', 'MAX_SEMAPHORES'], ['/v1/event-objects/e2', 'MAX_EVENT_OBJECTS']] as const) {
      const res = await app.inject({ method: 'PUT', url });
      assert.equal(res.statusCode, 429, url);
      assert.equal(res.json<{ limit: string }>().limit, limit);
      assert.ok(res.headers['retry-after'] !== undefined);
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 404);
    }
  });

  it('SSE_MAX_SUBSCRIBERS: one stream too many is 429 naming the limit', async (t) => {
    const app = await buildTestApp(t, { SSE_MAX_SUBSCRIBERS: '1' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address() as { port: number };
    const base = `http://127.0.0.1:${address.port}`;
    const first = new AbortController();
    const open = await fetch(`${base}/v1/events`, { signal: first.signal });
    assert.equal(open.status, 200);
    const second = await fetch(`${base}/v1/events`);
    assert.equal(second.status, 429);
    const problem = await second.json() as { limit: string };
    assert.equal(problem.limit, 'SSE_MAX_SUBSCRIBERS');
    assert.ok(second.headers.get('retry-after'));
    first.abort();
  });

  it('BODY_LIMIT: an oversized body is 413 naming the limit', async (t) => {
    const app = await buildTestApp(t, { BODY_LIMIT: '256' });
    const res = await app.inject({ method: 'POST', url: '/v1/work', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ mutex: 'x', label: 'y'.repeat(400) }) });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json<{ limit: string }>().limit, 'BODY_LIMIT');
  });

  it('rate limiting per client: 429 with Retry-After past RATE_LIMIT_MAX', async (t) => {
    const app = await buildTestApp(t, { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await app.inject({ method: 'GET', url: '/v1/info' })).statusCode);
    assert.deepEqual(codes, [200, 200, 200, 429, 429]);
    const limited = await app.inject({ method: 'GET', url: '/v1/info' });
    assert.match(String(limited.headers['content-type']), /^application\/problem\+json/);
    assert.ok(limited.headers['retry-after']);
  });
});

describe('status for dashboards', () => {
  it('a poll loop gets 304 until something changes, then 200 with a new ETag', async (t) => {
    const app = await buildTestApp(t);
    const first = await app.inject({ method: 'GET', url: '/v1/status' });
    assert.equal(first.statusCode, 200);
    const etag = String(first.headers['etag']);
    assert.match(etag, /^"[^"]+"$/, 'a strong ETag');
    for (let i = 0; i < 3; i++) {
      const again = await app.inject({ method: 'GET', url: '/v1/status', headers: { 'if-none-match': etag } });
      assert.equal(again.statusCode, 304);
      assert.equal(again.body, '');
      assert.equal(again.headers['content-type'], undefined, 'a 304 has no body, so no content-type');
      assert.equal(again.headers['content-length'], undefined, 'nor a length of its own');
      assert.equal(again.headers['etag'], etag);
    }
    const submitted = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'dash', untilSignaled: true } });
    const changed = await app.inject({ method: 'GET', url: '/v1/status', headers: { 'if-none-match': etag } });
    assert.equal(changed.statusCode, 200);
    assert.notEqual(changed.headers['etag'], etag);
    await app.inject({ method: 'DELETE', url: `/v1/work/${submitted.json<WorkView>().id}` });
  });
});

describe('metrics', () => {
  it('exposes tpmutex_ counters, histograms and gauges with no mutex names as labels', async (t) => {
    const app = await buildTestApp(t);
    const w = (await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'Local\\secret-name', holdMs: 1 } })).json<WorkView>();
    await app.inject({ method: 'GET', url: `/v1/work/${w.id}?wait=terminal&timeoutMs=60000` });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    const text = res.body;
    for (const name of ['tpmutex_works_submitted_total 1', 'tpmutex_works_finished_total{state="released"} 1', 'tpmutex_work_hold_seconds_bucket',
      'tpmutex_work_queue_seconds_count 1', 'tpmutex_events_published_total', 'tpmutex_http_requests_total', 'process_cpu_user_seconds_total']) {
      assert.ok(text.includes(name), name);
    }
    assert.ok(!text.includes('secret-name'), 'no mutex names in metrics');
  });
});

describe('security headers', () => {
  it('sets helmet headers and no CORS headers unless configured', async (t) => {
    const app = await buildTestApp(t);
    const res = await app.inject({ method: 'GET', url: '/v1/info', headers: { origin: 'https://evil.example' } });
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
    assert.match(String(res.headers['content-security-policy']), /^default-src 'self';/);
    assert.doesNotMatch(String(res.headers['content-security-policy']), /upgrade-insecure-requests/);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    // Error answers carry them too.
    const missing = await app.inject({ method: 'GET', url: '/v1/no-such-route' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.headers['x-content-type-options'], 'nosniff');
  });

  it('allows only the configured CORS origins', async (t) => {
    const app = await buildTestApp(t, { CORS_ORIGINS: 'https://dash.example' });
    const ok = await app.inject({ method: 'GET', url: '/v1/info', headers: { origin: 'https://dash.example' } });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://dash.example');
    const other = await app.inject({ method: 'GET', url: '/v1/info', headers: { origin: 'https://evil.example' } });
    assert.notEqual(other.headers['access-control-allow-origin'], 'https://evil.example');
  });
});

describe('load shedding', () => {
  it('over MAX_HEAP_USED_BYTES, requests get a 503 problem naming the limit; /livez still answers', async (t) => {
    const app = await buildTestApp(t, { MAX_HEAP_USED_BYTES: '1' });
    let res = await app.inject({ method: 'GET', url: '/v1/info' });
    // under-pressure samples the heap on a timer: wait for its first sample.
    for (const deadline = Date.now() + 30_000; res.statusCode === 200 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      res = await app.inject({ method: 'GET', url: '/v1/info' });
    }
    assert.equal(res.statusCode, 503);
    assert.equal(res.json<{ limit: string }>().limit, 'MAX_HEAP_USED_BYTES');
    assert.ok(res.headers['retry-after']);
    assert.equal((await app.inject({ method: 'GET', url: '/livez' })).statusCode, 200);
  });
});
