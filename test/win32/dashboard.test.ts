/**
 * The dashboard page in headless Chromium against the service on the win32 engine under
 * Windows Node (the scenario: test/dashboard/browser.ts; its emulated twin is
 * test/dashboard/dashboard.test.ts). Runs in the Windows harness (`npm run test:win32`,
 * suite cross-process); without Wine or Chromium it is skipped on a developer's machine
 * and fails in CI (CI=true).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { browserUnavailable, dashboardScenario } from '../dashboard/browser.js';
import { startServer } from '../helpers/server-process.js';
import { provision, skipIsFailure, unavailableReason, type WindowsNode } from './wine-env.js';

const unavailable = unavailableReason() ?? browserUnavailable();
const skip = unavailable !== undefined && !skipIsFailure() ? unavailable : false;

describe('the dashboard against the win32 engine', { skip }, () => {
  let node: WindowsNode;
  before(() => {
    if (unavailable !== undefined) throw new Error(`the dashboard's Windows test cannot run here: ${unavailable} (CI=true: a failure, not a skip)`);
    node = provision(() => undefined);
  });

  it('shows holds, releases and a restart live (win32 engine under Windows Node, headless Chromium)', { timeout: 600_000 }, async () => {
    assert.equal(unavailable, undefined);
    await dashboardScenario(async (env) => {
      const server = await startServer({ LOG_LEVEL: 'warn', ...env }, { windows: node });
      return { baseUrl: server.baseUrl, stop: () => server.stop() };
    }, 'win32');
  });
});
