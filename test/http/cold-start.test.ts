/**
 * A process that has just started is never reported as overloaded: 30 cold starts of
 * the real server while two CPU-bound processes load the machine, and the first 20
 * requests after /livez answers are all accepted. Before the fix, an event-loop lag
 * sample taken before its histogram had ticked read as Infinity, and a loaded machine
 * shed every request of the first second (503 `overloaded`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Api } from '../e2e/api.js';
import { startCpuHogs, type CpuHogs } from '../helpers/cpu-hogs.js';
import { startServer } from '../helpers/server-process.js';

const STARTS = 30;
const REQUESTS = 20;

async function livez(api: Api): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await api.request('GET', '/livez')).status === 200) return;
    } catch { /* not listening yet */ }
  }
  throw new Error('/livez did not answer within 30 s');
}

describe('cold start under CPU load', () => {
  let hogs: CpuHogs | undefined;
  before(() => { hogs = startCpuHogs(2); });
  after(() => hogs?.stop());

  it(`the first ${REQUESTS} requests after /livez are accepted, in each of ${STARTS} fresh processes`, { timeout: 600_000 }, async () => {
    const refused: string[] = [];
    for (let start = 0; start < STARTS; start++) {
      const server = await startServer({ ENGINE: 'emulated' });
      try {
        const api = new Api(server.baseUrl);
        await livez(api);
        for (let i = 0; i < REQUESTS; i++) {
          const res = await api.request<{ type?: string; detail?: string }>('POST', '/v1/work', { body: { mutex: `cold-${i % 4}` } });
          if (res.status !== 202) refused.push(`start ${start} request ${i}: ${res.status} ${res.body.type ?? ''} ${res.body.detail ?? ''}`);
        }
      } finally {
        await server.stop('SIGKILL');
      }
    }
    assert.deepEqual(refused, [], 'every request of a fresh process is accepted');
  });
});
