/**
 * The fleet monitoring files (monitoring/): the Prometheus rules pass `promtool check
 * rules`, and `promtool test rules` fires each alert from synthetic series
 * (prometheus-rules.tests.yaml); every alert carries a runbook; the Grafana dashboard
 * parses, has a uid and unique panel ids; every tpmutex_ metric the two use exists in
 * /metrics; the service serves both files as shipped. Without promtool the promtool
 * tests are skipped on a developer's machine and fail in CI (CI=true), where .ci/run
 * installs it (Debian package `prometheus`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { buildTestApp } from '../helpers/app.js';

/** A loaded machine must not turn these answers into 503s (load shedding is tested on its own). */
const NO_SHEDDING = { MAX_EVENT_LOOP_DELAY_MS: '0' };

const root = new URL('../../../', import.meta.url);
const RULES = fileURLToPath(new URL('monitoring/prometheus-rules.yaml', root));
const RULE_TESTS = fileURLToPath(new URL('test/monitoring/prometheus-rules.tests.yaml', root));
const DASHBOARD = fileURLToPath(new URL('monitoring/grafana-dashboard.json', root));

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const missing = promtool.error !== undefined ? 'promtool is not installed (apt-get install prometheus)' : undefined;
const inCi = process.env['CI'] === 'true' || process.env['CI'] === '1';
const skipWithoutPromtool = missing !== undefined && !inCi ? missing : false;

interface Rule { alert?: string; record?: string; expr: string; annotations?: Record<string, string> }
interface RuleFile { groups: { name: string; rules: Rule[] }[] }
interface RuleTests { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }
interface Panel { id: number; title: string; targets?: { expr: string }[] }
interface Dashboard { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; query?: unknown }[] } }

const rules = (parse(readFileSync(RULES, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert !== undefined);
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** The metric families an expression names (histogram series map to their family). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\btpmutex_[a-zA-Z0-9_]+/g)].map((m) => m[0]);
}

describe('Prometheus rules', () => {
  it('promtool check rules accepts the rule file', { skip: skipWithoutPromtool }, () => {
    assert.equal(missing, undefined, missing);
    const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    assert.match(check.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it('promtool test rules: each alert fires from synthetic series, and none on a healthy host', { skip: skipWithoutPromtool }, () => {
    assert.equal(missing, undefined, missing);
    const run = spawnSync('promtool', ['test', 'rules', RULE_TESTS], { encoding: 'utf8' });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    const tests = (parse(readFileSync(RULE_TESTS, 'utf8')) as RuleTests).tests.flatMap((t) => t.alert_rule_test ?? []);
    const fired = new Set(tests.filter((t) => t.exp_alerts.length > 0).map((t) => t.alertname));
    const quiet = new Set(tests.filter((t) => t.exp_alerts.length === 0).map((t) => t.alertname));
    assert.deepEqual(alerts.map((a) => a.alert).filter((name) => !fired.has(name!)), [], 'alerts no test fires');
    assert.deepEqual(alerts.map((a) => a.alert).filter((name) => !quiet.has(name!)), [], 'alerts no test checks quiet');
  });

  it('every alert has a summary and a runbook', () => {
    assert.ok(alerts.length >= 7);
    for (const alert of alerts) {
      assert.ok((alert.annotations?.['summary'] ?? '').length > 0, `${alert.alert}: summary`);
      assert.ok((alert.annotations?.['runbook'] ?? '').length > 80, `${alert.alert}: runbook`);
    }
  });
});

describe('Grafana dashboard', () => {
  it('parses, has a uid, unique panel ids and an instance variable', () => {
    assert.match(dashboard.uid, /^[a-z0-9-]{1,40}$/);
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    assert.ok(dashboard.templating.list.some((v) => v.name === 'instance'), 'an instance variable');
    for (const panel of dashboard.panels) {
      assert.ok((panel.targets ?? []).length > 0, `${panel.title}: a query`);
      for (const target of panel.targets ?? []) assert.match(target.expr, /instance=~"\$instance"/, `${panel.title}: filtered by $instance`);
    }
  });
});

describe('the metrics they use', () => {
  it('every tpmutex_ metric of the dashboard and the rules exists in /metrics', async (t) => {
    const app = await buildTestApp(t, NO_SHEDDING);
    const exposition = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const families = new Map([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const exists = (name: string): boolean => {
      if (families.has(name)) return true;
      const family = name.replace(/_(bucket|sum|count)$/, '');
      return family !== name && ['histogram', 'summary'].includes(families.get(family) ?? '');
    };
    const used = new Set([
      ...rules.flatMap((r) => metricNames(r.expr)),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((target) => metricNames(target.expr))),
      ...dashboard.templating.list.flatMap((v) => metricNames(JSON.stringify(v.query ?? ''))),
    ]);
    assert.ok(used.size >= 15, `${used.size} metrics used`);
    assert.deepEqual([...used].filter((name) => !exists(name)).sort(), [], 'used but not in /metrics');
  });
});

describe('GET /v1/monitoring/*', () => {
  it('serves both files as shipped', async (t) => {
    const app = await buildTestApp(t, NO_SHEDDING);
    const json = await app.inject({ method: 'GET', url: '/v1/monitoring/grafana-dashboard.json' });
    assert.equal(json.statusCode, 200);
    assert.match(String(json.headers['content-type']), /^application\/json/);
    assert.equal(json.body, readFileSync(DASHBOARD, 'utf8'));
    const yaml = await app.inject({ method: 'GET', url: '/v1/monitoring/prometheus-rules.yaml' });
    assert.equal(yaml.statusCode, 200);
    assert.match(String(yaml.headers['content-type']), /^application\/yaml/);
    assert.equal(yaml.body, readFileSync(RULES, 'utf8'));
  });

  it('needs a token when tokens are on', async (t) => {
    const app = await buildTestApp(t, { ...NO_SHEDDING, API_TOKENS: 'monitoring-test-token-0123456789' });
    assert.equal((await app.inject({ method: 'GET', url: '/v1/monitoring/prometheus-rules.yaml' })).statusCode, 401);
    const withToken = await app.inject({ method: 'GET', url: '/v1/monitoring/prometheus-rules.yaml', headers: { authorization: 'Bearer monitoring-test-token-0123456789' } });
    assert.equal(withToken.statusCode, 200);
  });
});
