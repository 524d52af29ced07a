/**
 * The dashboard page in headless Chromium against the service on the emulated engine
 * (the scenario: test/dashboard/browser.ts). Without Chromium the test is skipped on a
 * developer's machine and fails in CI (CI=true), where .ci/run installs it.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startServer } from '../helpers/server-process.js';
import { browserUnavailable, dashboardScenario } from './browser.js';

const missing = browserUnavailable();
const inCi = process.env['CI'] === 'true' || process.env['CI'] === '1';

it('the dashboard shows holds, releases and a restart live (emulated engine, headless Chromium)', { skip: missing !== undefined && !inCi ? missing : false, timeout: 300_000 }, async () => {
  assert.equal(missing, undefined, missing);
  await dashboardScenario(async (env) => {
    const server = await startServer({ ENGINE: 'emulated', ...env });
    return { baseUrl: server.baseUrl, stop: () => server.stop() };
  }, 'emulated');
});
