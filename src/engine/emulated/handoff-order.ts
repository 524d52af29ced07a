/**
 * Per-mutex delivery order and release stamps. Each worker reports on its own
 * MessagePort and the main thread drains those ports in no particular order, so the next
 * owner's `acquired` can be read before the previous owner's `acquired` or `returned`.
 * The service may only see `released(prev)` after `acquired(next)` (docs/design.md §1.4, as with
 * the win32 engine's single completion port), so an `acquired` is held back, with every
 * later phase of its work, until the holder of the previous fencing token has returned
 * or died. Fencing tokens are gapless per mutex (mutex-entry.ts), so "the previous
 * holder" is always token − 1.
 *
 * A `released` is stamped on its worker right after the release, which can be later
 * than the next owner's `acquired` stamp (the releasing thread may be preempted between
 * the two). Both are upper bounds of the real release, so, like the win32 engine, the
 * phase carries the smaller one: never earlier than the release, never later than the
 * next acquisition. When the next owner has already stamped its acquisition but its
 * `acquired` has not been read yet, the `released` waits for it (and then goes first).
 */
import type { Ns, Phase, ReleasedPhase } from '../types.js';

interface Turns {
  /** Every token up to this one has finished its turn (returned, or its thread died). */
  finishedThrough: number;
  /** Tokens that finished out of order, waiting for the ones before them. */
  readonly finishedAhead: Set<number>;
  /** Works whose `acquired` waits for an earlier turn, by fencing token. */
  readonly waiting: Map<number, string>;
  /** Tokens whose holder returned and whose `released` has not been read yet. */
  readonly releasing: Set<number>;
  /** `acquired` stamps, by token, of owners whose predecessor's `released` is still to come. */
  readonly acquiredAt: Map<number, Ns>;
  /** `released` phases, by the releaser's token, waiting for the next owner's `acquired`. */
  readonly deferredReleases: Map<number, ReleasedPhase>;
}

interface HeldWork {
  readonly entry: number;
  readonly phases: Phase[];
}

interface Turn {
  readonly entry: number;
  readonly token: number;
}

function newTurns(finishedThrough = 0): Turns {
  return {
    finishedThrough, finishedAhead: new Set(), waiting: new Map(),
    releasing: new Set(), acquiredAt: new Map(), deferredReleases: new Map(),
  };
}

function stampedNoLaterThan(phase: ReleasedPhase, atNs: Ns): ReleasedPhase {
  return phase.atNs <= atNs ? phase : { ...phase, atNs };
}

export class HandoffOrder {
  private readonly turnsByEntry = new Map<number, Turns>();
  /** Works held back: their `acquired` and everything after it, in per-work order. */
  private readonly held = new Map<string, HeldWork>();
  /** Works whose `acquired` was delivered and whose `returned` was not. */
  private readonly owners = new Map<string, Turn>();
  /** Works that returned and whose `released` was not delivered. */
  private readonly releasers = new Map<string, Turn>();

  /**
   * @param deliver where phases go, in order
   * @param lastTokenOf the last fencing token issued on an entry (read from the table)
   */
  constructor(private readonly deliver: (phase: Phase) => void, private readonly lastTokenOf: (entry: number) => number) {}

  /**
   * A new mutex on `entry` (a fresh or reused entry) whose last issued token is
   * `lastToken`: its next acquisition is token lastToken + 1.
   */
  newMutex(entry: number, lastToken = 0): void {
    const old = this.turnsByEntry.get(entry);
    // Nothing can be deferred once every work of the old mutex ended; never lose a phase anyway.
    for (const phase of old?.deferredReleases.values() ?? []) this.deliver(phase);
    this.turnsByEntry.set(entry, newTurns(lastToken));
  }

  /** The next phase of a work on `entry`; phases of one work come in their own order. */
  push(entry: number, phase: Phase): void {
    const held = this.held.get(phase.workId);
    if (held !== undefined) {
      held.phases.push(phase);
      return;
    }
    if (phase.type === 'acquired') {
      const turns = this.turns(entry);
      if (phase.fencingToken > turns.finishedThrough + 1) {
        turns.waiting.set(phase.fencingToken, phase.workId);
        this.held.set(phase.workId, { entry, phases: [phase] });
        return;
      }
    }
    this.pass(entry, phase);
  }

  /**
   * The owner with `token` is gone without a phase saying so (its thread died owning the
   * mutex). A `released` waiting for its `acquired` will not get one: it goes as it is.
   */
  endTurn(entry: number, token: number): void {
    const turns = this.turns(entry);
    const deferred = turns.deferredReleases.get(token - 1);
    if (deferred !== undefined) {
      turns.deferredReleases.delete(token - 1);
      this.deliver(deferred);
    }
    this.finishTurn(entry, token);
  }

  /** Deliver whatever is still held, in token order. Only for shutdown, when no phase can come any more. */
  flush(): void {
    for (const turns of this.turnsByEntry.values()) {
      for (const phase of turns.deferredReleases.values()) this.deliver(phase);
      turns.deferredReleases.clear();
    }
    const rest = [...this.held.values()];
    const tokenOf = (held: HeldWork): number => {
      const first = held.phases[0];
      return first?.type === 'acquired' ? first.fencingToken : 0;
    };
    rest.sort((a, b) => tokenOf(a) - tokenOf(b));
    this.held.clear();
    for (const held of rest) for (const phase of held.phases) this.deliver(phase);
  }

  private pass(entry: number, phase: Phase): void {
    switch (phase.type) {
      case 'acquired': return this.passAcquired(entry, phase);
      case 'returned': return this.passReturned(phase);
      case 'released': return this.passReleased(phase);
      case 'failed': return this.passFailed(phase);
      default: this.deliver(phase);
    }
  }

  private passAcquired(entry: number, phase: Phase & { readonly type: 'acquired' }): void {
    const turns = this.turns(entry);
    const previous = phase.fencingToken - 1;
    const deferred = turns.deferredReleases.get(previous);
    if (deferred !== undefined) {
      turns.deferredReleases.delete(previous);
      this.deliver(stampedNoLaterThan(deferred, phase.atNs));
    } else if (turns.releasing.has(previous)) {
      turns.acquiredAt.set(phase.fencingToken, phase.atNs);
    }
    this.deliver(phase);
    this.owners.set(phase.workId, { entry, token: phase.fencingToken });
  }

  private passReturned(phase: Phase): void {
    this.deliver(phase);
    const owner = this.owners.get(phase.workId);
    if (owner === undefined) return;
    this.owners.delete(phase.workId);
    this.releasers.set(phase.workId, owner);
    this.turns(owner.entry).releasing.add(owner.token);
    this.finishTurn(owner.entry, owner.token);
  }

  private passReleased(phase: ReleasedPhase): void {
    const releaser = this.releasers.get(phase.workId);
    if (releaser === undefined) {
      this.deliver(phase);
      return;
    }
    this.releasers.delete(phase.workId);
    const turns = this.turns(releaser.entry);
    turns.releasing.delete(releaser.token);
    const next = releaser.token + 1;
    const nextAcquiredAt = turns.acquiredAt.get(next);
    if (nextAcquiredAt !== undefined) {
      turns.acquiredAt.delete(next);
      this.deliver(stampedNoLaterThan(phase, nextAcquiredAt));
    } else if (this.lastTokenOf(releaser.entry) >= next) {
      // The next owner has stamped its acquisition; its `acquired` is on its way.
      turns.deferredReleases.set(releaser.token, phase);
    } else {
      // No next acquisition yet: whichever comes will be stamped after this moment.
      this.deliver(phase);
    }
  }

  private passFailed(phase: Phase): void {
    this.deliver(phase);
    const owner = this.owners.get(phase.workId);
    if (owner !== undefined) {
      this.owners.delete(phase.workId);
      this.finishTurn(owner.entry, owner.token);
    }
    // Died between returning and reporting `released`: no stamp will need the next acquisition's.
    const releaser = this.releasers.get(phase.workId);
    if (releaser !== undefined) {
      this.releasers.delete(phase.workId);
      const turns = this.turns(releaser.entry);
      turns.releasing.delete(releaser.token);
      turns.acquiredAt.delete(releaser.token + 1);
    }
  }

  private finishTurn(entry: number, token: number): void {
    const turns = this.turns(entry);
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
      for (const phase of held?.phases ?? []) this.push(entry, phase);
    }
  }

  private turns(entry: number): Turns {
    let turns = this.turnsByEntry.get(entry);
    if (turns === undefined) {
      turns = newTurns();
      this.turnsByEntry.set(entry, turns);
    }
    return turns;
  }
}
