/**
 * Load shedding on event-loop lag: only lag that was measured counts (a fresh process
 * is never overloaded), a real stall sheds with a 503 `overloaded` problem, /readyz
 * follows, /livez and /metrics keep answering, and the refusal is one warn line.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { App } from '../../src/app.js';
import { LagMonitor } from '../../src/http/lag-monitor.js';
import { appOnEngine } from '../helpers/app.js';
import { testConfig } from '../helpers/config.js';

function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* a synchronous stall, as a hot loop in a handler would cause */ }
}

describe('LagMonitor', () => {
  it('a sample taken before the histogram ticked is not Infinity: nothing was measured, nothing is reported', () => {
    const lag = new LagMonitor();
    lag.start();
    const value = lag.sample();
    lag.stop();
    assert.ok(Number.isFinite(value), `lag is ${value}`);
    assert.equal(value, 0);
  });

  it('a stall with no tick at all is measured from the time the loop went without one', () => {
    const lag = new LagMonitor();
    lag.start();
    blockEventLoop(300);
    const value = lag.sample();
    lag.stop();
    assert.ok(value >= 280 && Number.isFinite(value), `lag is ${value}`);
  });
});

describe('shedding on event-loop lag', () => {
  it('a stalled loop sheds with 503 overloaded; /readyz is 503; /livez and /metrics answer; one warn line without a stack', { timeout: 120_000 }, async (t) => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
    const config = testConfig({ MAX_EVENT_LOOP_DELAY_MS: '300' });
    const app: App = await appOnEngine(config, { loggerInstance: pino({ level: 'debug' }, sink) });
    t.after(() => app.close());
    await app.ready();
    assert.equal((await app.inject({ method: 'GET', url: '/v1/info' })).statusCode, 200, 'a fresh app is not overloaded');

    // Sustained lag: the loop stalls 400 ms at a time and answers in between, so every
    // one-second sample's mean is far above the limit. Requests are made in the gaps.
    const laggy = async <T>(request: () => Promise<T>): Promise<T> => {
      blockEventLoop(400);
      await setTimeout(1); // let the timers run: the lag histogram and the sampler are timers
      return request();
    };
    let res = await laggy(() => app.inject({ method: 'GET', url: '/v1/info' }));
    for (const deadline = Date.now() + 30_000; res.statusCode === 200 && Date.now() < deadline;) {
      res = await laggy(() => app.inject({ method: 'GET', url: '/v1/info' }));
    }
    assert.equal(res.statusCode, 503);
    const problem = res.json<{ type: string; limit: string; detail: string }>();
    assert.equal(problem.type, 'urn:tpmutex:problem:overloaded');
    assert.equal(problem.limit, 'MAX_EVENT_LOOP_DELAY_MS');
    assert.match(problem.detail, /event-loop delay \d+ ms is above 300 ms/);
    assert.ok(Number(res.headers['retry-after']) > 0);
    assert.equal((await laggy(() => app.inject({ method: 'GET', url: '/readyz' }))).statusCode, 503);
    assert.equal((await laggy(() => app.inject({ method: 'GET', url: '/livez' }))).statusCode, 200);
    assert.equal((await laggy(() => app.inject({ method: 'GET', url: '/metrics' }))).statusCode, 200);

    const refusals = lines.filter((l) => l['msg'] === 'request refused');
    assert.ok(refusals.length > 0, 'the refusal is logged');
    for (const line of refusals) {
      assert.equal(line['level'], 40, 'at warn');
      assert.equal(line['problem'], 'overloaded');
      assert.equal(line['err'], undefined, 'no error object, no stack');
    }
    assert.ok(!lines.some((l) => l['level'] === 50), 'nothing at error level');

    // The next sample of an idle loop lifts the shedding.
    for (const deadline = Date.now() + 30_000; res.statusCode === 503 && Date.now() < deadline;) {
      await setTimeout(50);
      res = await app.inject({ method: 'GET', url: '/v1/info' });
    }
    assert.equal(res.statusCode, 200, 'shedding stops once the loop keeps time again');
  });
});
