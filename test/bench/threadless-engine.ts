/**
 * For the submit figure's breakdown only: an engine with no threads that completes every
 * work at once (started → acquired → returned → released on the next turn, tokens in
 * submission order per mutex). The service on it costs everything POST /v1/work costs
 * except the pool threads, so submitRatio's gap splits into HTTP + service vs engine.
 */
import type { PhaseListener, WorkSpec } from '../../src/engine/types.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';

export class ThreadlessEngine extends ScriptedEngine {
  private readonly tokens = new Map<string, number>();
  private deliver: PhaseListener = () => {};

  override onPhase(listener: PhaseListener): void {
    super.onPhase(listener);
    this.deliver = listener;
  }

  override submit(spec: WorkSpec): void {
    const { workId } = spec;
    const mutex = spec.acquire.kind === 'none' ? '' : spec.acquire.name;
    const fencingToken = (this.tokens.get(mutex) ?? 0) + 1;
    this.tokens.set(mutex, fencingToken);
    setImmediate(() => {
      // Built whole, as an engine would: the cost measured is the service's, not this fake's.
      const atNs = this.nowNs();
      this.deliver({ type: 'started', workId, atNs, threadId: 1, mayRunLong: null });
      this.deliver({ type: 'acquired', workId, atNs, threadId: 1, abandoned: false, fencingToken });
      this.deliver({ type: 'returned', workId, atNs, signaled: false });
      this.deliver({ type: 'released', actions: ['release_mutex'], workId, atNs });
    });
  }
}
