/**
 * GET /, /dashboard and the page's files: answered without a token even with tokens on
 * (they hold no data), with the security headers (the strict CSP) and the right media
 * types; an unknown file is the usual 404 problem. The page itself is tested in a
 * browser by test/dashboard/dashboard.test.ts.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { it } from 'node:test';
import { buildTestApp } from '../helpers/app.js';

/** A loaded machine must not turn these answers into 503s (load shedding is tested on its own). */
const NO_SHEDDING = { MAX_EVENT_LOOP_DELAY_MS: '0' };

const TOKEN = 'dashboard-route-token-0123456789';
const shipped = readdirSync(new URL('../../../dashboard/', import.meta.url)).filter((f) => f !== 'index.html');

it('GET / links the dashboard, the docs and the monitoring files, without a token', async (t) => {
  const app = await buildTestApp(t, { ...NO_SHEDDING, API_TOKENS: TOKEN });
  const res = await app.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 200);
  const { links } = res.json<{ links: Record<string, string> }>();
  assert.equal(links['dashboard'], '/dashboard');
  assert.equal(links['docs'], '/docs');
  assert.equal(links['grafanaDashboard'], '/v1/monitoring/grafana-dashboard.json');
  assert.equal(links['prometheusRules'], '/v1/monitoring/prometheus-rules.yaml');
});

it('the page and its files answer without a token, under a CSP that allows only this origin\'s scripts', async (t) => {
  const app = await buildTestApp(t, { ...NO_SHEDDING, API_TOKENS: TOKEN });
  const page = await app.inject({ method: 'GET', url: '/dashboard' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /script-src-attr 'none'/);
  assert.doesNotMatch(page.body, /<script>|<script [^>]*>[^<]|\son[a-z]+="/, 'no inline script or handler');
  assert.doesNotMatch(page.body, /https?:\/\//, 'nothing from another origin');
  assert.ok(shipped.includes('app.js'));
  for (const file of shipped) {
    const res = await app.inject({ method: 'GET', url: `/dashboard/${file}` });
    assert.equal(res.statusCode, 200, file);
    assert.match(String(res.headers['content-type']), file.endsWith('.js') ? /^text\/javascript/ : /^text\/css/, file);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.doesNotMatch(res.body, /https?:\/\/(?!127\.)/, `${file}: nothing from another origin`);
  }
});

it('an unknown file of the page is a 404 problem; the API still needs the token', async (t) => {
  const app = await buildTestApp(t, { ...NO_SHEDDING, API_TOKENS: TOKEN });
  const missing = await app.inject({ method: 'GET', url: '/dashboard/nothing.js' });
  assert.equal(missing.statusCode, 404);
  assert.match(String(missing.headers['content-type']), /^application\/problem\+json/);
  assert.equal((await app.inject({ method: 'GET', url: '/dashboard/..%2Fpackage.json' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/status' })).statusCode, 401);
});
