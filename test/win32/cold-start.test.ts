/**
 * A fresh service under Windows Node (win32 engine, load shedding at its default) never
 * reports itself overloaded: in each of 5 cold starts, with two CPU-bound processes
 * loading the machine, the first 20 requests after /livez answers are all accepted.
 * Under Wine every start used to shed its first second (an unsampled lag read as
 * Infinity); the Linux twin with 30 starts is test/http/cold-start.test.ts.
 * Runs in the Windows harness (`npm run test:win32`, suite cross-process).
 */
import assert from 'node:assert/strict';
import { startCpuHogs, type CpuHogs } from '../helpers/cpu-hogs.js';
import { after, before, describe, it } from 'node:test';
import { Api } from '../e2e/api.js';
import { startServer } from '../helpers/server-process.js';
import { provision, skipIsFailure, unavailableReason, type WindowsNode } from './wine-env.js';

const unavailable = unavailableReason();
const skip = unavailable !== undefined && !skipIsFailure() ? unavailable : false;
const STARTS = 5;
const REQUESTS = 20;

describe('cold start of the service under Windows Node', { skip }, () => {
  let node: WindowsNode;
  let hogs: CpuHogs | undefined;
  before(() => {
    if (unavailable !== undefined) throw new Error(`the Windows harness cannot run here: ${unavailable} (CI=true: a failure, not a skip)`);
    node = provision(() => undefined);
    hogs = startCpuHogs(2);
  });
  after(() => hogs?.stop());

  it(`the first ${REQUESTS} requests after /livez are accepted, in each of ${STARTS} fresh processes`, { timeout: 600_000 }, async () => {
    const refused: string[] = [];
    for (let start = 0; start < STARTS; start++) {
      const server = await startServer({ LOG_LEVEL: 'warn' }, { windows: node, readyPath: '/livez' });
      try {
        const api = new Api(server.baseUrl);
        for (let i = 0; i < REQUESTS; i++) {
          const res = await api.request<{ type?: string; detail?: string }>('POST', '/v1/work', { body: { mutex: `cold-${start}-${i % 4}` } });
          if (res.status !== 202) refused.push(`start ${start} request ${i}: ${res.status} ${res.body.type ?? ''} ${res.body.detail ?? ''}`);
        }
      } finally {
        await server.stop();
      }
    }
    assert.deepEqual(refused, [], 'every request of a fresh process is accepted');
  });
});
