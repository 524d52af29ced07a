/**
 * After a fatal engine failure (win32: its completion-port drain failed) the engine
 * takes no more work: readiness must say so and why, and the status document and the
 * ready gauge must agree, so a load balancer and a dashboard both stop trusting it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/app.js';
import { EngineError } from '../../src/engine/errors.js';
import { testConfig } from '../helpers/config.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';

describe('engine fault', () => {
  it('turns /readyz into 503 engine_failed with the reason; /v1/status and tpmutex_ready agree', async (t) => {
    const engine = new ScriptedEngine();
    const app = await buildApp({ config: testConfig(), engine });
    t.after(() => app.close());
    await app.ready();
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);

    engine.broken = new EngineError('engine_unavailable', 'the win32 engine stopped: reading its completion port failed (test); restart the service');
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(ready.json(), { status: 'engine_failed', reason: engine.broken.message });
    assert.equal(ready.headers['retry-after'], undefined, 'waiting does not fix it');

    const status = await app.inject({ method: 'GET', url: '/v1/status' });
    assert.equal(status.json().engine.healthy, false);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /^tpmutex_ready 0$/m);
  });
});
