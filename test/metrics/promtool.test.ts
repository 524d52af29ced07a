/**
 * /metrics passes Prometheus' own linter (`promtool check metrics`, Debian package
 * `prometheus`) with no findings, after every kind of metric has values: works of each
 * outcome, an HTTP error, a limit hit. Without promtool the test is skipped on a
 * developer's machine and fails in CI (CI=true), where .ci/run installs it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { buildTestApp } from '../helpers/app.js';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const missing = promtool.error !== undefined ? 'promtool is not installed (apt-get install prometheus)' : undefined;
const inCi = process.env['CI'] === 'true' || process.env['CI'] === '1';

it('promtool check metrics finds nothing in /metrics', { skip: missing !== undefined && !inCi ? missing : false }, async (t) => {
  assert.equal(missing, undefined, missing);
  const app = await buildTestApp(t, { MAX_QUEUED_WORK_PER_MUTEX: '1' });
  const held = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'lint', untilSignaled: true } });
  await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'lint' } }); // 429: one unfinished per mutex
  await app.inject({ method: 'GET', url: '/v1/nothing' }); // 404
  await app.inject({ method: 'DELETE', url: `/v1/work/${held.json<{ id: string }>().id}` });
  const timedOut = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'other', holdMs: 1 } });
  await app.inject({ method: 'GET', url: `/v1/work/${timedOut.json<{ id: string }>().id}?wait=terminal&timeoutMs=60000` });
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
  assert.equal(`${lint.stdout}${lint.stderr}`.trim(), '', 'promtool reports nothing');
  assert.equal(lint.status, 0);
});
