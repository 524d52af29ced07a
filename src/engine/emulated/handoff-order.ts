/**
 * Per-mutex delivery order of phases. Each worker reports on its own MessagePort and the
 * main thread drains those ports in no particular order, so the next owner's `acquired`
 * can be read before the previous owner's `acquired` or `returned`. The service may only
 * see `released(prev)` after `acquired(next)` (DESIGN §1.4, as with the win32 engine's
 * single completion port), so an `acquired` is held back, with every later phase of its
 * work, until the holder of the previous fencing token has returned or died.
 *
 * Fencing tokens are gapless per mutex (mutex-slot.ts), so "the previous holder" is
 * always token − 1. Phases that do not involve owning (started, timed_out, cancelled)
 * pass straight through unless their work is held back.
 */
import type { Phase } from '../types.js';

interface Turns {
  /** Every token up to this one has finished its turn (returned, or its thread died). */
  finishedThrough: number;
  /** Tokens that finished out of order, waiting for the ones before them. */
  readonly finishedAhead: Set<number>;
  /** Works whose `acquired` waits for an earlier turn, by fencing token. */
  readonly waiting: Map<number, string>;
}

interface HeldWork {
  readonly slot: number;
  readonly phases: Phase[];
}

export class HandoffOrder {
  private readonly turnsBySlot = new Map<number, Turns>();
  /** Works held back: their `acquired` and everything after it, in per-work order. */
  private readonly held = new Map<string, HeldWork>();
  /** Works whose `acquired` was delivered and whose turn has not finished. */
  private readonly owners = new Map<string, { readonly slot: number; readonly token: number }>();

  constructor(private readonly deliver: (phase: Phase) => void) {}

  /** A new mutex on `slot` (a fresh or reused slot): its tokens start from 1. */
  newMutex(slot: number): void {
    this.turnsBySlot.set(slot, { finishedThrough: 0, finishedAhead: new Set(), waiting: new Map() });
  }

  /** The next phase of a work on `slot`; phases of one work come in their own order. */
  push(slot: number, phase: Phase): void {
    const held = this.held.get(phase.workId);
    if (held !== undefined) {
      held.phases.push(phase);
      return;
    }
    if (phase.type === 'acquired') {
      const turns = this.turns(slot);
      if (phase.fencingToken > turns.finishedThrough + 1) {
        turns.waiting.set(phase.fencingToken, phase.workId);
        this.held.set(phase.workId, { slot, phases: [phase] });
        return;
      }
    }
    this.pass(slot, phase);
  }

  /** The owner with `token` is gone without a phase saying so (its thread died owning the mutex). */
  endTurn(slot: number, token: number): void {
    this.finishTurn(slot, token);
  }

  /** Deliver whatever is still held, in token order. Only for shutdown, when no phase can come any more. */
  flush(): void {
    const rest = [...this.held.entries()].map(([workId, held]) => ({ workId, ...held }));
    const tokenOf = (phases: readonly Phase[]): number => {
      const first = phases[0];
      return first?.type === 'acquired' ? first.fencingToken : 0;
    };
    rest.sort((a, b) => tokenOf(a.phases) - tokenOf(b.phases));
    this.held.clear();
    for (const { phases } of rest) for (const phase of phases) this.deliver(phase);
  }

  private pass(slot: number, phase: Phase): void {
    this.deliver(phase);
    if (phase.type === 'acquired') {
      this.owners.set(phase.workId, { slot, token: phase.fencingToken });
      return;
    }
    if (phase.type === 'returned' || phase.type === 'failed') {
      const owner = this.owners.get(phase.workId);
      if (owner === undefined) return;
      this.owners.delete(phase.workId);
      this.finishTurn(owner.slot, owner.token);
    }
  }

  private finishTurn(slot: number, token: number): void {
    const turns = this.turns(slot);
    if (token <= turns.finishedThrough) return;
    turns.finishedAhead.add(token);
    for (;;) {
      while (turns.finishedAhead.delete(turns.finishedThrough + 1)) turns.finishedThrough++;
      // The earliest held work whose turn has come. Its token can be at or below
      // finishedThrough when its thread died before its predecessor's turn ended.
      let ready: number | undefined;
      for (const waitingToken of turns.waiting.keys()) {
        if (waitingToken <= turns.finishedThrough + 1 && (ready === undefined || waitingToken < ready)) ready = waitingToken;
      }
      if (ready === undefined) return;
      const workId = turns.waiting.get(ready);
      turns.waiting.delete(ready);
      const held = workId === undefined ? undefined : this.held.get(workId);
      if (workId !== undefined) this.held.delete(workId);
      // Re-pushing may end this work's turn too; the loop then releases the next one.
      for (const phase of held?.phases ?? []) this.push(slot, phase);
    }
  }

  private turns(slot: number): Turns {
    let turns = this.turnsBySlot.get(slot);
    if (turns === undefined) {
      turns = { finishedThrough: 0, finishedAhead: new Set(), waiting: new Map() };
      this.turnsBySlot.set(slot, turns);
    }
    return turns;
  }
}
