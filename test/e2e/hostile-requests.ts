/**
 * Requests that are invalid by construction (fast-check arbitraries): odd paths, names
 * with odd Unicode, huge numbers, wrong types, broken JSON, oversized bodies, bad
 * headers, bad Last-Event-ID. The hostile suite fires thousands at a server; the soak
 * (test/soak/) mixes a few per second into its load. Each must get a 4xx problem.
 */
import fc from 'fast-check';
import { parseMutexName } from '../../src/mutex/names.js';

export interface HostileRequest { method: string; path: string; headers: Record<string, string>; body?: string }

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const anyText = fc.string({ unit: 'binary', maxLength: 40 });
/** A name that can never be valid: a bad character somewhere, or too long. */
const badName = fc.oneof(
  fc.tuple(text, text).map(([a, b]) => `${a}\\${b}\\x`),
  fc.tuple(text, fc.constantFrom('\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\uD800', '\uDFFF'), text).map(([a, c, b]) => `${a}${c}${b}`),
  fc.constantFrom('', 'Global\\', 'Local\\', 'global\\x', 'Session\\1\\x'),
  fc.integer({ min: 261, max: 2000 }).map((n) => 'n'.repeat(n)),
).filter((name) => !parseMutexName(name).ok);
const hugeNumber = fc.oneof(fc.constantFrom(-1, 1.5, 2 ** 31, 2 ** 53, 1e300, -0.5), fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d) || d < 0 || d > 2 ** 31));
const wrongType = fc.oneof(text, fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
const encode = (s: string) => { try { return encodeURIComponent(s); } catch { return escape(s); } };

/** POST /v1/work bodies, each with at least one thing wrong. */
const badWorkBody: fc.Arbitrary<string> = fc.oneof(
  badName.map((mutex) => JSON.stringify({ mutex })),
  fc.tuple(fc.constantFrom('acquireTimeoutMs', 'holdMs', 'spinMs'), hugeNumber).map(([k, v]) => JSON.stringify({ mutex: 'hostile-ok', [k]: v })),
  fc.tuple(fc.constantFrom('acquireTimeoutMs', 'holdMs', 'spinMs', 'untilSignaled', 'mayRunLong', 'label', 'mutex'), wrongType)
    // Only the combinations that are really wrong: a string is a fine label or name, a boolean a fine flag.
    .filter(([k, v]) => !(typeof v === 'string' && (k === 'label' || k === 'mutex')) && !(typeof v === 'boolean' && (k === 'untilSignaled' || k === 'mayRunLong')))
    .map(([k, v]) => JSON.stringify({ mutex: 'hostile-ok', [k]: v })),
  fc.tuple(text.filter((k) => !['mutex', 'acquireTimeoutMs', 'holdMs', 'untilSignaled', 'spinMs', 'mayRunLong', 'label', '__proto__', 'constructor'].includes(k)), fc.jsonValue())
    .map(([k, v]) => `{"mutex":"hostile-ok",${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}}`),
  fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)).map((v) => JSON.stringify(v) ?? 'null'),
  anyText.map((s) => `{"mutex": "hostile-ok", ${s}`),
  fc.constantFrom('', '{', '{"mutex":}', '{"mutex":"x",}', 'null', '[]', '{"mutex":"x","holdMs":1e999}', '{"__proto__":{"mutex":"x"}}', '{"constructor":{"prototype":{}}}'),
  fc.integer({ min: 17_000, max: 40_000 }).map((n) => JSON.stringify({ mutex: 'hostile-ok', label: 'x'.repeat(n) })),
);

const json = { 'content-type': 'application/json' };
export const hostileRequest: fc.Arbitrary<HostileRequest> = fc.oneof(
  badWorkBody.map((body) => ({ method: 'POST', path: '/v1/work', headers: json, body })),
  fc.tuple(fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded'), anyText)
    .map(([type, body]) => ({ method: 'POST', path: '/v1/work', headers: { 'content-type': type }, body })),
  fc.tuple(fc.constantFrom('PUT', 'GET', 'DELETE'), badName).map(([method, name]) => ({ method, path: `/v1/mutexes/${encode(name)}`, headers: {} })),
  fc.tuple(fc.constantFrom('GET', 'DELETE'), fc.stringMatching(/^[a-zA-Z0-9._~-]{1,40}$/)).map(([method, id]) => ({ method, path: `/v1/work/${id}`, headers: {} })),
  fc.stringMatching(/^[a-zA-Z0-9._~-]{1,40}$/).map((id) => ({ method: 'POST', path: `/v1/work/${id}/signal`, headers: {} })),
  fc.tuple(fc.constantFrom('limit', 'cursor', 'state', 'mutex', 'colour'), fc.oneof(text, hugeNumber.map(String)))
    .filter(([k, v]) => !(k === 'limit' && /^\s*\d+\s*$/.test(v) && Number(v) >= 1 && Number(v) <= 1000))
    .filter(([k, v]) => !(k === 'cursor' && /^[0-9a-z]{1,11}$/.test(v)) && !(k === 'mutex' && parseMutexName(v).ok))
    .filter(([k, v]) => !(k === 'state' && /^(queued|waiting|holding|released|timed_out|cancelled|failed)(,(queued|waiting|holding|released|timed_out|cancelled|failed))*$/.test(v)))
    .map(([k, v]) => ({ method: 'GET', path: `/v1/work?${k}=${encode(v)}`, headers: {} })),
  fc.oneof(anyText, fc.constantFrom('x-1', 'abc-', '-5', 'boot-999999999999999999', ' ', '💥-1')).filter((id) => !/^[A-Za-z0-9]{1,32}-\d{1,15}$/.test(id.trim()))
    .map((id) => ({ method: 'GET', path: '/v1/events', headers: { 'last-event-id': id.replace(/[^\x20-\x7e]/g, '?') } })),
  text.filter((t) => !/^(work\.(queued|started|acquired|returned|released|timed_out|cancelled|failed)|mutex\.(opened|closed))(,.*)?$/.test(t))
    .map((t) => ({ method: 'GET', path: `/v1/events?types=${encode(t || 'nope')}`, headers: {} })),
  fc.oneof(
    fc.record({ minThreads: fc.integer({ min: 5, max: 50 }), maxThreads: fc.integer({ min: 1, max: 4 }) }).map((b) => JSON.stringify(b)),
    fc.tuple(fc.constantFrom('minThreads', 'maxThreads'), fc.oneof(wrongType, hugeNumber)).map(([k, v]) => JSON.stringify({ [k]: v })),
    fc.constantFrom('{}', '{"threads":3}', '[]', '{'),
  ).map((body) => ({ method: 'PATCH', path: '/v1/pool', headers: json, body })),
  fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'), anyText).map(([method, p]) => ({ method, path: `/zz/${encode(p)}`, headers: {} })),
  fc.tuple(fc.constantFrom('PUT', 'PATCH', 'POST'), fc.constantFrom('/v1/info', '/v1/status', '/v1/work/x.1/signal/extra', '/v1/mutexes')).map(([method, path]) => ({ method, path, headers: {} })),
);
