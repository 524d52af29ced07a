/**
 * Bad input gets a clear 4xx application/problem+json and changes nothing
 * (docs/design.md §4.6): no mutex opened, no work created, no event published.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Problem, RequestOptions } from './api.js';
import { stateSnapshot } from './checks.js';
import { useTarget } from './target.js';

const target = useTarget();

const snapshot = () => stateSnapshot(target.api, target.baseUrl);

interface Case { name: string; method: string; path: string; options?: RequestOptions; status: number; field?: string }

const json = (body: unknown): RequestOptions => ({ body });
const longName = 'n'.repeat(261);

const cases: Case[] = [
  { name: 'missing mutex', method: 'POST', path: '/v1/work', options: json({}), status: 400, field: 'body/mutex' },
  { name: 'unknown field', method: 'POST', path: '/v1/work', options: json({ mutex: 'bad-a', holdms: 5 }), status: 400, field: 'body/holdms' },
  { name: 'string for a number', method: 'POST', path: '/v1/work', options: json({ mutex: 'bad-a', holdMs: '5' }), status: 400, field: 'body/holdMs' },
  { name: 'negative timeout', method: 'POST', path: '/v1/work', options: json({ mutex: 'bad-a', acquireTimeoutMs: -1 }), status: 400, field: 'body/acquireTimeoutMs' },
  { name: 'fractional hold', method: 'POST', path: '/v1/work', options: json({ mutex: 'bad-a', holdMs: 1.5 }), status: 400, field: 'body/holdMs' },
  { name: 'hold above MAX_HOLD_MS', method: 'POST', path: '/v1/work', options: json({ mutex: 'bad-a', holdMs: 1e12 }), status: 400, field: 'body/holdMs' },
  { name: 'spin above MAX_SPIN_MS', method: 'POST', path: '/v1/work', options: json({ mutex: 'bad-a', spinMs: 2 ** 40 }), status: 400, field: 'body/spinMs' },
  { name: 'huge number', method: 'POST', path: '/v1/work', options: { rawBody: '{"mutex":"bad-a","holdMs":1e400}', headers: { 'content-type': 'application/json' } }, status: 400 },
  { name: 'boolean as string', method: 'POST', path: '/v1/work', options: json({ mutex: 'bad-a', untilSignaled: 'true' }), status: 400, field: 'body/untilSignaled' },
  { name: 'label too long', method: 'POST', path: '/v1/work', options: json({ mutex: 'bad-a', label: 'x'.repeat(5000) }), status: 400, field: 'body/label' },
  { name: 'name with a backslash', method: 'POST', path: '/v1/work', options: json({ mutex: 'a\\b' }), status: 400, field: 'body/mutex' },
  { name: 'lowercase prefix', method: 'POST', path: '/v1/work', options: json({ mutex: 'global\\x' }), status: 400, field: 'body/mutex' },
  { name: 'empty name after prefix', method: 'POST', path: '/v1/work', options: json({ mutex: 'Global\\' }), status: 400, field: 'body/mutex' },
  { name: 'name too long', method: 'POST', path: '/v1/work', options: json({ mutex: longName }), status: 400, field: 'body/mutex' },
  { name: 'NUL in a name', method: 'POST', path: '/v1/work', options: json({ mutex: 'a\u0000b' }), status: 400, field: 'body/mutex' },
  { name: 'lone surrogate', method: 'POST', path: '/v1/work', options: json({ mutex: 'a\uD800' }), status: 400, field: 'body/mutex' },
  { name: 'array body', method: 'POST', path: '/v1/work', options: json([{ mutex: 'bad-a' }]), status: 400 },
  { name: 'malformed JSON', method: 'POST', path: '/v1/work', options: { rawBody: '{"mutex": "bad-a",', headers: { 'content-type': 'application/json' } }, status: 400 },
  { name: 'empty JSON body', method: 'POST', path: '/v1/work', options: { rawBody: '', headers: { 'content-type': 'application/json' } }, status: 400 },
  { name: 'wrong content type', method: 'POST', path: '/v1/work', options: { rawBody: 'mutex=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, status: 415 },
  { name: 'oversized body', method: 'POST', path: '/v1/work', options: { rawBody: JSON.stringify({ mutex: 'bad-a', label: 'x'.repeat(2_000_000) }), headers: { 'content-type': 'application/json' } }, status: 413 },
  { name: 'empty idempotency key', method: 'POST', path: '/v1/work', options: { body: { mutex: 'bad-a' }, headers: { 'idempotency-key': '' } }, status: 400 },
  { name: 'PUT name with a backslash', method: 'PUT', path: '/v1/mutexes/a%5Cb', status: 400, field: 'params/name' },
  { name: 'PUT name too long', method: 'PUT', path: `/v1/mutexes/${longName}`, status: 400, field: 'params/name' },
  { name: 'PUT control character', method: 'PUT', path: '/v1/mutexes/a%01b', status: 400, field: 'params/name' },
  { name: 'GET unknown mutex', method: 'GET', path: '/v1/mutexes/never-opened-here', status: 404 },
  { name: 'list limit 0', method: 'GET', path: '/v1/mutexes?limit=0', status: 400, field: 'query/limit' },
  { name: 'list limit 1001', method: 'GET', path: '/v1/work?limit=1001', status: 400, field: 'query/limit' },
  { name: 'list bad cursor', method: 'GET', path: '/v1/work?cursor=%21%21', status: 400, field: 'query/cursor' },
  { name: 'list bad state', method: 'GET', path: '/v1/work?state=sleeping', status: 400, field: 'query/state/0' },
  { name: 'list bad second state', method: 'GET', path: '/v1/work?state=queued,sleeping', status: 400, field: 'query/state/1' },
  { name: 'list unknown query', method: 'GET', path: '/v1/work?colour=red', status: 400, field: 'query/colour' },
  { name: 'wait for what', method: 'GET', path: '/v1/work/x.1?wait=forever', status: 400, field: 'query/wait' },
  { name: 'long-poll above MAX_WAIT_MS', method: 'GET', path: '/v1/work/x.1?wait=terminal&timeoutMs=99999999', status: 400 },
  { name: 'unknown work', method: 'GET', path: '/v1/work/x.1', status: 404 },
  { name: 'signal unknown work', method: 'POST', path: '/v1/work/x.1/signal', status: 404 },
  { name: 'cancel unknown work', method: 'DELETE', path: '/v1/work/x.1', status: 404 },
  { name: 'events bad type', method: 'GET', path: '/v1/events?types=work.exploded', status: 400, field: 'query/types' },
  { name: 'events bad after', method: 'GET', path: '/v1/events?after=-3', status: 400, field: 'query/after' },
  { name: 'events bad Last-Event-ID', method: 'GET', path: '/v1/events', options: { headers: { 'last-event-id': 'not an id' } }, status: 400, field: 'header/last-event-id' },
  { name: 'events bad mutex filter', method: 'GET', path: '/v1/events?mutex=a%5Cb', status: 400, field: 'query/mutex' },
  { name: 'pool min above max', method: 'PATCH', path: '/v1/pool', options: json({ minThreads: 9, maxThreads: 3 }), status: 400, field: 'body/minThreads' },
  { name: 'pool zero threads', method: 'PATCH', path: '/v1/pool', options: json({ maxThreads: 0 }), status: 400, field: 'body/maxThreads' },
  { name: 'pool empty patch', method: 'PATCH', path: '/v1/pool', options: json({}), status: 400 },
  { name: 'pool above POOL_THREADS_LIMIT', method: 'PATCH', path: '/v1/pool', options: json({ maxThreads: 1_000_000 }), status: 400, field: 'body/maxThreads' },
  { name: 'unknown route', method: 'GET', path: '/v2/nothing', status: 404 },
  { name: 'wrong method', method: 'PATCH', path: '/v1/work', options: json({}), status: 405 },
];

describe('bad input', () => {
  it('each bad request gets a 4xx problem+json naming the problem, and nothing changes', async () => {
    const before = await snapshot();
    for (const c of cases) {
      const res = await target.api.request<Problem>(c.method, c.path, c.options);
      const where = `${c.name}: ${c.method} ${c.path} → ${res.status} ${res.text.slice(0, 300)}`;
      assert.equal(res.status, c.status, where);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, where);
      const problem = res.body;
      assert.equal(problem.status, c.status, where);
      assert.match(problem.type, /^urn:tpmutex:problem:/, where);
      assert.ok(problem.title.length > 0 && problem.detail.length > 0, where);
      assert.doesNotMatch(res.text, /at .*\.(js|ts):\d+/, `${where}: no stack traces`);
      if (c.field) assert.ok(problem.errors?.some((e) => e.field === c.field), `${where}: errors[] names ${c.field}`);
    }
    assert.deepEqual(await snapshot(), before);
  });
});
