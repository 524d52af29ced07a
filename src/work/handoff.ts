/**
 * Release reordering (docs/design.md §1.4): the next owner's `acquired` can arrive
 * before the previous holder's `released` (the next waiter wakes as soon as the mutex is
 * free; the release is reported by another thread). Clients must see `released(prev)`
 * first, so `acquired(next)` and whatever follows it wait here for the engine's own
 * `released(prev)`. Nothing is made up: held-back phases go out as the engine reported
 * them, only later.
 *
 * If the previous owner has not even returned, the mutex was never released: that is
 * not a late report but a broken engine. It is handed to `acquiredWhileHeld` and
 * `acquired(next)` goes out as it came.
 */
import { isTerminalPhase, type Phase } from '../engine/types.js';
import type { MutexRecord } from '../mutex/registry.js';
import type { WorkRecord } from './work-record.js';

export interface HandoffDeps {
  work(id: string): WorkRecord | undefined;
  /** Applies and publishes one phase (a held-back one, when its turn comes). */
  apply(mutex: MutexRecord, work: WorkRecord, phase: Phase): void;
  acquiredWhileHeld(mutex: MutexRecord, next: WorkRecord, phase: Phase, previousWorkId: string): void;
}

export class HandoffOrder {
  /**
   * Works whose `acquired` arrived before the previous holder's `released`: that phase
   * and every later one of the work, in order, until the release arrives. By work id.
   */
  private readonly heldBack = new Map<string, Phase[]>();
  /**
   * Per mutex name, the held-back works in acquisition order. Usually one; more when a
   * release is reported late enough for the next owners to come and go meanwhile.
   */
  private readonly queues = new Map<string, string[]>();

  constructor(private readonly deps: HandoffDeps) {}

  /** Works whose `acquired` waits for the previous holder's `released`. */
  get heldBackCount(): number { return this.heldBack.size; }

  /** True when the phase was held back (it goes out later, through `deps.apply`). */
  holdBack(mutex: MutexRecord, work: WorkRecord, phase: Phase): boolean {
    const held = this.heldBack.get(work.id);
    if (held) { held.push(phase); return true; }
    return phase.type === 'acquired' && this.holdBackAcquired(mutex, work, phase);
  }

  /** The holder of `mutex` ended: the first held-back owner's phases go out now. */
  holderEnded(mutex: MutexRecord): void {
    const queue = this.queues.get(mutex.name);
    const nextId = queue?.shift();
    if (queue === undefined || nextId === undefined) return;
    if (queue.length === 0) this.queues.delete(mutex.name);
    const phases = this.heldBack.get(nextId) ?? [];
    this.heldBack.delete(nextId);
    const next = this.deps.work(nextId);
    // Applied as they are: this work's turn has come, whatever else is still queued.
    if (next !== undefined) for (const phase of phases) this.deps.apply(mutex, next, phase);
  }

  private holdBackAcquired(mutex: MutexRecord, next: WorkRecord, phase: Phase): boolean {
    const queue = this.queues.get(mutex.name);
    const last = queue?.at(-1);
    let previousId: string;
    if (queue !== undefined && last !== undefined) {
      // Behind another held-back owner: it must have returned already.
      previousId = last;
      const returned = (this.heldBack.get(last) ?? []).some((p) => p.type === 'returned' || isTerminalPhase(p));
      if (returned) {
        queue.push(next.id);
        this.heldBack.set(next.id, [phase]);
        return true;
      }
    } else {
      const holder = mutex.holder;
      if (!holder || holder.workId === next.id) return false;
      const previous = this.deps.work(holder.workId);
      if (!previous || previous.state !== 'holding') return false;
      previousId = previous.id;
      if (previous.returnedNs !== null) {
        this.queues.set(mutex.name, [next.id]);
        this.heldBack.set(next.id, [phase]);
        return true;
      }
    }
    this.deps.acquiredWhileHeld(mutex, next, phase, previousId);
    return false;
  }
}
