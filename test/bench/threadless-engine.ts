/**
 * For the submit figure's breakdown only: an engine with no threads that completes every
 * work at once (started → acquired → returned → released on the next turn, tokens in
 * submission order per mutex). The service on it costs everything POST /v1/work costs
 * except the pool threads, so submitRatio's gap splits into HTTP + service vs engine.
 */
import type { WorkSpec } from '../../src/engine/types.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';

export class ThreadlessEngine extends ScriptedEngine {
  private readonly tokens = new Map<string, number>();

  override submit(spec: WorkSpec): void {
    const { workId, mutex } = spec;
    const fencingToken = (this.tokens.get(mutex) ?? 0) + 1;
    this.tokens.set(mutex, fencingToken);
    setImmediate(() => {
      this.emit({ type: 'started', workId, threadId: 1, mayRunLong: null });
      this.emit({ type: 'acquired', workId, threadId: 1, abandoned: false, fencingToken });
      this.emit({ type: 'returned', workId, signaled: false });
      this.emit({ type: 'released', workId });
    });
  }
}
