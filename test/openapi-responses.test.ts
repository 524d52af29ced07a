/**
 * Every answer the service gives, success and error alike, is what openapi.yaml says:
 * a real listening server is driven through every operation (with tokens on, tight
 * limits and a name policy, so the 401, 403, 404, 409, 413, 415, 422 and 429 answers
 * happen too), and each answer is checked against the committed document: its status
 * is declared for that operation, its media type is declared for that status, its body
 * validates against the declared schema, and each header a client relies on (Location,
 * Retry-After, WWW-Authenticate, ETag, Idempotent-Replayed) is declared. Event stream
 * frames are validated against EventFrame. Any mismatch fails, naming the request.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import type { App } from '../src/app.js';
import { appOnEngine } from './helpers/app.js';
import { SseBlocks } from './helpers/sse-frames.js';
import { testConfig } from './helpers/config.js';

interface MediaType { schema?: object }
interface Response { headers?: Record<string, unknown>; content?: Record<string, MediaType> }
interface Operation { operationId: string; responses: Record<string, Response> }
interface Spec { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object> } }

const spec = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as Spec;
/** Headers whose presence a client relies on: each must be declared where it is sent. */
const SIGNIFICANT_HEADERS = ['location', 'retry-after', 'www-authenticate', 'etag', 'idempotent-replayed'];
const TOKEN = 'responses-test-token-0123456789';

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
// The document's components, reachable as spec#/components/schemas/X from every compiled schema.
ajv.addSchema(JSON.parse(JSON.stringify({ $id: 'spec', components: spec.components }).replaceAll('"#/components/', '"spec#/components/')) as object);
const compiled = new Map<object, ValidateFunction>();
function validatorOf(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"spec#/components/')) as object);
    compiled.set(schema, validate);
  }
  return validate;
}

/** The operation for a concrete method and path, matched against the spec's templates. */
function operationOf(method: string, url: string): { template: string; operation: Operation } | undefined {
  const path = url.split('?')[0]!;
  for (const [template, ops] of Object.entries(spec.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const operation = ops[method.toLowerCase()];
    if (pattern.test(path) && operation !== undefined) return { template, operation };
  }
  return undefined;
}

const mismatches: string[] = [];
const seen = new Map<string, Set<string>>(); // operationId → statuses answered

function check(method: string, url: string, status: number, headers: Headers, body: string): void {
  const where = `${method} ${url} → ${status}`;
  const found = operationOf(method, url);
  if (found === undefined) { mismatches.push(`${where}: no such operation in openapi.yaml`); return; }
  const { operation } = found;
  (seen.get(operation.operationId) ?? seen.set(operation.operationId, new Set()).get(operation.operationId)!).add(String(status));
  const response = operation.responses[String(status)];
  if (response === undefined) { mismatches.push(`${where}: status not declared for ${operation.operationId}`); return; }
  for (const name of SIGNIFICANT_HEADERS) {
    if (headers.has(name) && !Object.keys(response.headers ?? {}).map((h) => h.toLowerCase()).includes(name)) {
      mismatches.push(`${where}: header ${name} is sent but not declared`);
    }
  }
  if (body.length === 0) {
    if (response.content !== undefined && status !== 304) mismatches.push(`${where}: empty body, but content is declared`);
    return;
  }
  const mediaType = (headers.get('content-type') ?? '').split(';')[0]!.trim();
  const declared = response.content?.[mediaType];
  if (declared === undefined) { mismatches.push(`${where}: media type ${mediaType} not declared (declared: ${Object.keys(response.content ?? {}).join(', ') || 'none'})`); return; }
  // NDJSON (a streaming keepalive) is checked line by line against its x-line-schema.
  if (mediaType.endsWith('json') && mediaType !== 'application/x-ndjson' && declared.schema !== undefined) {
    const validate = validatorOf(declared.schema);
    if (!validate(JSON.parse(body))) mismatches.push(`${where}: body does not match the schema: ${ajv.errorsText(validate.errors)} in ${body.slice(0, 300)}`);
  }
}

describe('every answer matches openapi.yaml', () => {
  let app: App;
  let base: string;

  before(async () => {
    const config = testConfig({
      API_TOKENS: TOKEN, MAX_QUEUED_WORK_PER_MUTEX: '2', BODY_LIMIT: '1024',
      MUTEX_ALLOW: 'Local\\allowed-*,Global\\allowed-*', MUTEX_GLOBAL: 'true', ENGINE_CHECKED: 'true',
    });
    app = await appOnEngine(config, { checked: true });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => app.close());

  async function call(method: string, url: string, options: { body?: unknown; raw?: string; headers?: Record<string, string>; token?: boolean } = {}): Promise<{ status: number; headers: Headers; text: string; json: () => Record<string, unknown> }> {
    const headers: Record<string, string> = { ...(options.token === false ? {} : { authorization: `Bearer ${TOKEN}` }), ...options.headers };
    let body: string | undefined = options.raw;
    if (options.body !== undefined) { body = JSON.stringify(options.body); headers['content-type'] ??= 'application/json'; }
    const res = await fetch(`${base}${url}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    check(method, url, res.status, res.headers, text);
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
  }

  /** A streaming keepalive: its media type, and its first lines against x-line-schema. */
  async function streamingKeepalive(url: string): Promise<void> {
    const lineSchema = (spec.paths['/v1/work/{id}/keepalive']!['post']!.responses['200']!.content!['application/x-ndjson'] as { 'x-line-schema': object })['x-line-schema'];
    const validate = validatorOf(lineSchema);
    const controller = new AbortController();
    const res = await fetch(`${base}${url}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, signal: controller.signal });
    check('POST', url, res.status, res.headers, '(a stream)');
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    const line = JSON.parse(text.slice(0, text.indexOf('\n'))) as unknown;
    if (!validate(line)) mismatches.push(`keepalive line: ${ajv.errorsText(validate.errors)}`);
  }

  it('drives every operation, error answers included', { timeout: 120_000 }, async () => {
    const expect = async (status: number, ...args: Parameters<typeof call>) => {
      const res = await call(...args);
      assert.equal(res.status, status, `${args[0]} ${args[1]}: ${res.text.slice(0, 300)}`);
      return res;
    };
    await expect(200, 'GET', '/livez', { token: false });
    await expect(200, 'GET', '/readyz', { token: false });
    await expect(200, 'GET', '/metrics');
    await expect(401, 'GET', '/metrics', { token: false });
    await expect(200, 'GET', '/openapi.json');
    await expect(200, 'GET', '/docs');
    await expect(401, 'GET', '/docs', { token: false });
    await expect(200, 'GET', '/', { token: false });
    await expect(200, 'GET', '/dashboard', { token: false });
    await expect(200, 'GET', '/v1/monitoring/grafana-dashboard.json');
    await expect(401, 'GET', '/v1/monitoring/grafana-dashboard.json', { token: false });
    await expect(200, 'GET', '/v1/monitoring/prometheus-rules.yaml');
    await expect(200, 'GET', '/v1/info');
    await expect(401, 'GET', '/v1/info', { headers: { authorization: 'Bearer wrong' }, token: false });
    const status = await expect(200, 'GET', '/v1/status');
    await expect(304, 'GET', '/v1/status', { headers: { 'if-none-match': status.headers.get('etag')! } });

    // Mutexes
    await expect(201, 'PUT', '/v1/mutexes/allowed-a');
    await expect(200, 'PUT', '/v1/mutexes/Local%5Callowed-a');
    await expect(403, 'PUT', '/v1/mutexes/refused');
    await expect(400, 'PUT', '/v1/mutexes/a%5Cb%5Cc');
    await expect(200, 'GET', '/v1/mutexes');
    await expect(400, 'GET', '/v1/mutexes?cursor=zzzzzz');
    await expect(400, 'GET', '/v1/mutexes?limit=0');
    await expect(200, 'GET', '/v1/mutexes/allowed-a');
    await expect(404, 'GET', '/v1/mutexes/allowed-never');

    // Work
    const held = (await expect(202, 'POST', '/v1/work', { body: { mutex: 'allowed-a', untilSignaled: true, label: 'holder' }, headers: { 'idempotency-key': 'k1' } })).json();
    await expect(202, 'POST', '/v1/work', { body: { mutex: 'allowed-a', untilSignaled: true, label: 'holder' }, headers: { 'idempotency-key': 'k1' } });
    await expect(422, 'POST', '/v1/work', { body: { mutex: 'allowed-a', holdMs: 5 }, headers: { 'idempotency-key': 'k1' } });
    const waiter = (await expect(202, 'POST', '/v1/work', { body: { mutex: 'allowed-a', acquireTimeoutMs: 60_000 } })).json();
    await expect(429, 'POST', '/v1/work', { body: { mutex: 'allowed-a' } });
    await expect(400, 'POST', '/v1/work', { body: { mutex: 'allowed-a', holdMs: -1 } });
    await expect(400, 'POST', '/v1/work', { raw: '{"mutex":', headers: { 'content-type': 'application/json' } });
    await expect(415, 'POST', '/v1/work', { raw: 'mutex=a', headers: { 'content-type': 'text/plain' } });
    await expect(413, 'POST', '/v1/work', { body: { mutex: 'allowed-a', label: 'x'.repeat(2000) } });
    await expect(403, 'POST', '/v1/work', { body: { mutex: 'refused' } });
    await expect(409, 'DELETE', '/v1/mutexes/allowed-a');
    await expect(200, 'GET', '/v1/work?state=holding,waiting');
    await expect(400, 'GET', '/v1/work?state=sleeping');
    await expect(200, 'GET', `/v1/work/${held['id']}`);
    await expect(404, 'GET', '/v1/work/nobody.1');
    await expect(400, 'GET', `/v1/work/${'x'.repeat(100)}`);
    await expect(202, 'DELETE', `/v1/work/${waiter['id']}`);
    await expect(400, 'POST', `/v1/work/${held['id']}/keepalive`);
    await expect(400, 'POST', `/v1/work/${held['id']}/keepalive`, { body: { leaseMs: 5 } });
    await expect(200, 'POST', `/v1/work/${held['id']}/keepalive`, { body: { leaseMs: 60_000 } });
    await expect(200, 'POST', `/v1/work/${held['id']}/keepalive`);
    await expect(400, 'POST', `/v1/work/${held['id']}/keepalive?stream=maybe`);
    await streamingKeepalive(`/v1/work/${held['id']}/keepalive?stream=true`);
    await expect(202, 'POST', `/v1/work/${held['id']}/signal`);
    await expect(200, 'GET', `/v1/work/${held['id']}?wait=terminal&timeoutMs=60000`);
    await expect(409, 'POST', `/v1/work/${held['id']}/signal`);
    await expect(409, 'DELETE', `/v1/work/${held['id']}`);
    await expect(404, 'POST', '/v1/work/nobody.1/signal');
    await expect(409, 'POST', `/v1/work/${held['id']}/keepalive`);
    await expect(404, 'POST', '/v1/work/nobody.1/keepalive');
    await expect(404, 'DELETE', '/v1/work/nobody.1');
    await expect(200, 'GET', `/v1/work/${waiter['id']}?wait=terminal&timeoutMs=60000`);
    await expect(200, 'DELETE', '/v1/mutexes/allowed-a');
    await expect(404, 'DELETE', '/v1/mutexes/allowed-a');

    // Semaphores, event objects, abandonment on cue
    await expect(201, 'PUT', '/v1/semaphores/allowed-s', { body: { initialCount: 1, maximumCount: 2 } });
    await expect(200, 'PUT', '/v1/semaphores/allowed-s');
    await expect(400, 'PUT', '/v1/semaphores/allowed-s2', { body: { initialCount: 3, maximumCount: 2 } });
    await expect(403, 'PUT', '/v1/semaphores/refused');
    await expect(201, 'PUT', '/v1/mutexes/allowed-m');
    await expect(409, 'PUT', '/v1/semaphores/allowed-m');
    await expect(200, 'GET', '/v1/semaphores');
    await expect(200, 'GET', '/v1/semaphores/allowed-s');
    await expect(404, 'GET', '/v1/semaphores/allowed-never');
    await expect(201, 'PUT', '/v1/event-objects/allowed-e', { body: { manualReset: true } });
    await expect(200, 'PUT', '/v1/event-objects/allowed-e');
    await expect(409, 'PUT', '/v1/event-objects/allowed-s');
    await expect(200, 'GET', '/v1/event-objects');
    await expect(200, 'GET', '/v1/event-objects/allowed-e');
    await expect(404, 'GET', '/v1/event-objects/allowed-never');
    await expect(200, 'POST', '/v1/event-objects/allowed-e/set');
    await expect(200, 'POST', '/v1/event-objects/allowed-e/reset');
    await expect(404, 'POST', '/v1/event-objects/allowed-never/set');
    await expect(404, 'POST', '/v1/event-objects/allowed-never/reset');
    const semWork = (await expect(202, 'POST', '/v1/work', { body: { semaphore: 'allowed-s', setEventOnReturn: 'allowed-e', untilSignaled: true } })).json();
    await expect(400, 'POST', '/v1/work', { body: { mutex: 'allowed-m', semaphore: 'allowed-s' } });
    await expect(404, 'POST', '/v1/work', { body: { semaphore: 'allowed-never' } });
    await expect(409, 'DELETE', '/v1/semaphores/allowed-s');
    await expect(409, 'DELETE', '/v1/event-objects/allowed-e');
    await expect(202, 'POST', `/v1/work/${semWork['id']}/signal`);
    await expect(200, 'GET', `/v1/work/${semWork['id']}?wait=terminal&timeoutMs=60000`);
    await expect(204, 'DELETE', '/v1/semaphores/allowed-s');
    await expect(404, 'DELETE', '/v1/semaphores/allowed-s');
    await expect(204, 'DELETE', '/v1/event-objects/allowed-e');
    await expect(404, 'DELETE', '/v1/event-objects/allowed-e');
    const abandonWork = (await expect(202, 'POST', '/v1/mutexes/allowed-m/abandon', { body: { acquireTimeoutMs: 1000 }, headers: { 'idempotency-key': 'k-abandon' } })).json();
    await expect(202, 'POST', '/v1/mutexes/allowed-m/abandon', { body: { acquireTimeoutMs: 1000 }, headers: { 'idempotency-key': 'k-abandon' } });
    await expect(422, 'POST', '/v1/mutexes/allowed-m/abandon', { headers: { 'idempotency-key': 'k-abandon' } });
    await expect(400, 'POST', '/v1/mutexes/allowed-m/abandon', { body: { acquireTimeoutMs: -1 } });
    await expect(403, 'POST', '/v1/mutexes/refused/abandon');
    await expect(200, 'GET', `/v1/work/${abandonWork['id']}?wait=terminal&timeoutMs=60000`);

    // Pool
    await expect(200, 'GET', '/v1/pool');
    await expect(200, 'PATCH', '/v1/pool', { body: { maxThreads: 8 } });
    await expect(400, 'PATCH', '/v1/pool', { body: { minThreads: 9, maxThreads: 2 } });
    await expect(415, 'PATCH', '/v1/pool', { raw: 'x', headers: { 'content-type': 'text/plain' } });

    // Events: the error answers here, the stream below.
    await expect(400, 'GET', '/v1/events', { headers: { 'last-event-id': 'not-an-id' } });
    await expect(400, 'GET', '/v1/events?types=work.nothing');
    await expect(401, 'GET', '/v1/events', { token: false });

    assert.deepEqual(mismatches, []);
  });

  it('every frame of the event stream (events, reset) matches EventFrame', { timeout: 60_000 }, async () => {
    const frameSchema = (spec.paths['/v1/events']!['get']!.responses['200']!.content!['text/event-stream'] as { 'x-frame-schema': object })['x-frame-schema'];
    const validate = validatorOf(frameSchema);
    const controller = new AbortController();
    // An id from another server process: the stream starts with `reset`, then replays everything buffered.
    const res = await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${TOKEN}`, 'last-event-id': 'otherboot-5' }, signal: controller.signal });
    check('GET', '/v1/events', res.status, res.headers, '(a stream)'); // its media type; the frames are checked below
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const types = new Set<string>();
    const blocks = new SseBlocks(({ frame }) => {
      if (frame === undefined) return; // a heartbeat comment
      const type = String(frame.json.type);
      types.add(type);
      if (!validate(frame.json)) mismatches.push(`event frame ${type}: ${ajv.errorsText(validate.errors)}`);
    });
    for (const deadline = Date.now() + 30_000; !(types.has('reset') && types.has('work.released')) && Date.now() < deadline;) {
      const { value, done } = await reader.read();
      if (done) break;
      blocks.feed(decoder.decode(value, { stream: true }));
    }
    controller.abort();
    assert.ok(types.has('reset') && types.has('work.released'), `frames seen: ${[...types].join(', ')}`);
    assert.deepEqual(mismatches, []);
  });

  it('every operation in the document was exercised', () => {
    const all = Object.values(spec.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    assert.deepEqual(all.filter((id) => !seen.has(id)), []);
  });
});
