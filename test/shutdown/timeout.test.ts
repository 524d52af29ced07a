/**
 * SHUTDOWN_TIMEOUT_MS running out: the engine is given the bound, and works whose
 * callbacks did not end within it still get a terminal event (failed, shutting_down),
 * which long-polls answer with. The engine here stands for callbacks that do not return
 * when told to (no real engine can be made to hang on purpose).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from '../../src/app.js';
import type { EngineCloseOptions } from '../../src/engine/types.js';
import type { WorkView } from '../../src/schemas/work.js';
import { testConfig } from '../helpers/config.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';

class UnfinishingEngine extends ScriptedEngine {
  closeTimeoutMs: number | undefined;
  override async close({ timeoutMs }: EngineCloseOptions = { timeoutMs: 0 }): Promise<void> {
    this.closeTimeoutMs = timeoutMs;
    await sleep(timeoutMs); // waited the whole bound; the callbacks never returned
  }
}

it('SHUTDOWN_TIMEOUT_MS running out: shutdown waits that long, then every unfinished work ends failed and long-polls answer', async (t) => {
  const engine = new UnfinishingEngine();
  const app = await buildApp({ config: testConfig({ SHUTDOWN_TIMEOUT_MS: '400' }), engine });
  t.after(() => app.close());
  await app.ready();
  const submitted = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex: 'stuck', untilSignaled: true } });
  assert.equal(submitted.statusCode, 202);
  const { id } = submitted.json<WorkView>();
  engine.emit({ type: 'started', workId: id, threadId: 3, mayRunLong: null });
  engine.emit({ type: 'acquired', workId: id, threadId: 3, abandoned: false, fencingToken: 1 });
  const longPoll = app.inject({ method: 'GET', url: `/v1/work/${id}?wait=terminal&timeoutMs=60000` });
  await sleep(20); // let the long-poll reach its wait

  const began = Date.now();
  await app.close();
  const elapsed = Date.now() - began;
  assert.equal(engine.closeTimeoutMs, 400, 'the engine was given SHUTDOWN_TIMEOUT_MS');
  assert.ok(elapsed >= 390, `shutdown took ${elapsed} ms, less than SHUTDOWN_TIMEOUT_MS`);
  const ended = app.services.work.get(id);
  assert.equal(ended.state, 'failed');
  assert.equal((ended.error as { type?: string } | null)?.type, 'urn:tpmutex:problem:shutting-down');
  assert.equal(app.services.mutexes.get('Local\\stuck')?.holder, null, 'no mutex left held in the books');
  const polled = await longPoll;
  assert.equal(polled.statusCode, 200);
  assert.equal(polled.json<WorkView>().state, 'failed');
});
