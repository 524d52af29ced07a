/**
 * The handoff order of one engine's phases, per mutex (docs/design.md §1.4): the rule
 * of the engine contract that `released(prev)` is delivered before `acquired(next)`,
 * with the release stamp clamped to no later than the next acquisition. Both engines
 * feed every phase of a work on a mutex through one HandoffOrder, keyed by whatever
 * names a mutex in that engine (the emulated table entry, the win32 open mutex).
 *
 * Why phases come out of order: the emulated engine reads each worker's port in no
 * particular order, so the next owner's `acquired` can be read before the previous
 * owner's `acquired`, `returned` or `released`; in the win32 engine the previous owner's
 * `released` is posted by the wait callback on another pool thread, after the next owner
 * may have posted `acquired`. So an `acquired` is held back, with every later phase of
 * its work, until the holder of the previous fencing token has delivered its terminal
 * phase. Fencing tokens are gapless per mutex, so "the previous holder" is always
 * token − 1; an owner that died before reporting its acquisition ends its turn through
 * endTurn.
 *
 * A `released` is stamped after the release, which can be later than the next owner's
 * `acquired` stamp (the releasing side may run after the next owner woke). Both are
 * upper bounds of the real release, so the phase carries the smaller one: never earlier
 * than the release, never later than the next acquisition. When the next owner has
 * already stamped its acquisition (the mutex's fencing counter says so) but its
 * `acquired` has not been read yet, the `released` waits for it, and then goes first.
 *
 * Semaphores (newSemaphore) have a simpler rule: a semaphore work takes one unit, and
 * its fencing token is only an acquisition sequence, not a turn. While this engine's
 * holders whose `acquired` went out and whose terminal phase has not equal the
 * semaphore's maximumCount, a further `acquired` (with the rest of its work) is held
 * back: the unit it took can only have come from one of those holders' releases, still
 * in flight. So the service never sees more holders than maximumCount. No stamp is
 * clamped: with several holders nobody can tell whose release gave the unit.
 */
import { isTerminalPhase, type AcquiredPhase, type Ns, type Phase, type ReleasedPhase } from './types.js';

/**
 * The collections are made when first needed: every open mutex has its Turns, and most
 * never see a phase out of order, so three empty collections each (about 570 B) were a
 * quarter of the memory an open mutex cost (the bench's bytesPerMutex).
 */
interface Turns {
  /** Every token up to this one has finished its turn (its terminal phase went out). */
  finishedThrough: number;
  /** Tokens that finished out of order, waiting for the ones before them. */
  finishedAhead?: Set<number>;
  /** Works whose `acquired` waits for an earlier turn, by fencing token. */
  waiting?: Map<number, string>;
  /** `released` phases, by the releaser's token, waiting for the next owner's `acquired`. */
  deferredReleases?: Map<number, ReleasedPhase>;
}

interface SemaphoreSlots {
  readonly maximumCount: number;
  /** Works whose `acquired` went out and whose terminal phase has not. */
  readonly holders: Set<string>;
  /** Works whose `acquired` is held back for want of a free slot, in arrival order. */
  readonly waiting: string[];
}

interface HeldWork<M> {
  readonly mutex: M;
  /** Its `acquired` first, then every later phase of the work, in order. */
  readonly phases: Phase[];
}

interface Owner<M> {
  readonly mutex: M;
  readonly token: number;
}

function newTurns(finishedThrough: number): Turns {
  return { finishedThrough };
}

function stampedNoLaterThan(phase: ReleasedPhase, atNs: Ns): ReleasedPhase {
  return phase.atNs <= atNs ? phase : { ...phase, atNs };
}

export class HandoffOrder<M> {
  private readonly turnsByMutex = new Map<M, Turns>();
  private readonly slotsBySemaphore = new Map<M, SemaphoreSlots>();
  /** Works held back: their `acquired` and everything after it, in per-work order. */
  private readonly held = new Map<string, HeldWork<M>>();
  /** Works whose `acquired` went out and whose terminal phase has not. */
  private readonly owners = new Map<string, Owner<M>>();

  /**
   * @param deliver where phases go, in order
   * @param lastTokenOf the last fencing token issued on a mutex (its live counter)
   */
  constructor(private readonly deliver: (phase: Phase) => void, private readonly lastTokenOf: (mutex: M) => number) {}

  /** A new mutex whose last issued token is `lastToken`: its next acquisition is lastToken + 1. */
  newMutex(mutex: M, lastToken = 0): void {
    this.forget(mutex);
    // From token 0 the Turns that turns() makes at the first phase are the same; until
    // then an idle mutex costs nothing here.
    if (lastToken !== 0) this.turnsByMutex.set(mutex, newTurns(lastToken));
  }

  /** A new semaphore under `key`: at most `maximumCount` of this engine's works hold a unit at once. */
  newSemaphore(key: M, maximumCount: number): void {
    if (!Number.isInteger(maximumCount) || maximumCount < 1) throw new RangeError(`maximumCount must be a positive integer, got ${maximumCount}`);
    this.forget(key);
    this.slotsBySemaphore.set(key, { maximumCount, holders: new Set(), waiting: [] });
  }

  /**
   * The mutex or semaphore is gone and no work uses it: deliver whatever it still holds
   * (nothing, when every turn ended; a phase is never lost anyway) and drop its state.
   */
  forget(key: M): void {
    const turns = this.turnsByMutex.get(key);
    const slots = this.slotsBySemaphore.get(key);
    this.turnsByMutex.delete(key);
    this.slotsBySemaphore.delete(key);
    for (const phase of turns?.deferredReleases?.values() ?? []) this.deliver(phase);
    if (turns !== undefined || slots !== undefined) this.deliverHeld([...this.held.values()].filter((held) => held.mutex === key));
  }

  /** The next phase of a work on the mutex or semaphore `key`; phases of one work come in their own order. */
  push(key: M, phase: Phase): void {
    const held = this.held.get(phase.workId);
    if (held !== undefined) {
      held.phases.push(phase);
      return;
    }
    const slots = this.slotsBySemaphore.get(key);
    if (slots !== undefined) return this.passSemaphore(key, slots, phase);
    switch (phase.type) {
      case 'acquired': return this.passAcquired(key, phase);
      case 'released': return this.passReleased(phase);
      case 'abandoned': case 'timed_out': case 'cancelled': case 'failed': return this.passEnded(phase);
      default: this.deliver(phase);
    }
  }

  /**
   * The owner with `token` is gone without a phase saying so (its thread died owning the
   * mutex, or its `acquired` could not be reported). A `released` waiting for its
   * `acquired` will not get one: it goes as it is.
   */
  endTurn(mutex: M, token: number): void {
    const turns = this.turns(mutex);
    const deferred = turns.deferredReleases?.get(token - 1);
    if (deferred !== undefined) {
      turns.deferredReleases?.delete(token - 1);
      this.deliver(deferred);
      this.finishTurn(mutex, token - 1);
    }
    this.finishTurn(mutex, token);
  }

  /** Deliver whatever is still held, in token order. Only for shutdown, when no phase can come any more. */
  flush(): void {
    for (const slots of this.slotsBySemaphore.values()) slots.waiting.length = 0;
    for (const turns of this.turnsByMutex.values()) {
      for (const phase of turns.deferredReleases?.values() ?? []) this.deliver(phase);
      turns.deferredReleases?.clear();
      turns.waiting?.clear();
    }
    this.deliverHeld([...this.held.values()]);
  }

  private passSemaphore(key: M, slots: SemaphoreSlots, phase: Phase): void {
    if (phase.type === 'acquired' && slots.holders.size >= slots.maximumCount) {
      slots.waiting.push(phase.workId);
      this.held.set(phase.workId, { mutex: key, phases: [phase] });
      return;
    }
    this.deliver(phase);
    if (phase.type === 'acquired') slots.holders.add(phase.workId);
    else if (isTerminalPhase(phase) && slots.holders.delete(phase.workId)) this.admitWaiting(key, slots);
  }

  /** A slot came free: let held works in, in arrival order, while there is room. */
  private admitWaiting(key: M, slots: SemaphoreSlots): void {
    while (slots.holders.size < slots.maximumCount) {
      const workId = slots.waiting.shift();
      if (workId === undefined) return;
      const held = this.held.get(workId);
      this.held.delete(workId);
      // Re-pushing may end this work too (its terminal phase was held with it); that
      // frees its slot again through the same path.
      for (const phase of held?.phases ?? []) this.push(key, phase);
    }
  }

  private deliverHeld(rest: HeldWork<M>[]): void {
    const tokenOf = (held: HeldWork<M>): number => {
      const first = held.phases[0];
      return first?.type === 'acquired' ? first.fencingToken : 0;
    };
    rest.sort((a, b) => tokenOf(a) - tokenOf(b));
    for (const held of rest) {
      const first = held.phases[0];
      if (first !== undefined) this.held.delete(first.workId);
      for (const phase of held.phases) this.deliver(phase);
    }
  }

  private passAcquired(mutex: M, phase: AcquiredPhase): void {
    const turns = this.turns(mutex);
    const previous = phase.fencingToken - 1;
    const deferred = turns.deferredReleases?.get(previous);
    if (deferred !== undefined) {
      turns.deferredReleases?.delete(previous);
      this.deliver(stampedNoLaterThan(deferred, phase.atNs));
      this.finishTurn(mutex, previous);
    }
    if (phase.fencingToken > turns.finishedThrough + 1) {
      (turns.waiting ??= new Map()).set(phase.fencingToken, phase.workId);
      this.held.set(phase.workId, { mutex, phases: [phase] });
      return;
    }
    this.deliver(phase);
    this.owners.set(phase.workId, { mutex, token: phase.fencingToken });
  }

  private passReleased(phase: ReleasedPhase): void {
    const owner = this.owners.get(phase.workId);
    if (owner === undefined) {
      this.deliver(phase);
      return;
    }
    this.owners.delete(phase.workId);
    const { mutex, token } = owner;
    const turns = this.turns(mutex);
    const next = token + 1;
    const nextWorkId = turns.waiting?.get(next);
    const nextAcquired = nextWorkId === undefined ? undefined : this.held.get(nextWorkId)?.phases[0];
    if (nextAcquired !== undefined) {
      this.deliver(stampedNoLaterThan(phase, nextAcquired.atNs));
    } else if (this.lastTokenOf(mutex) >= next) {
      // The next owner has stamped its acquisition; its `acquired` is on its way.
      (turns.deferredReleases ??= new Map()).set(token, phase);
      return;
    } else {
      // No next acquisition yet: whichever comes will be stamped after this moment.
      this.deliver(phase);
    }
    this.finishTurn(mutex, token);
  }

  /**
   * A terminal phase other than `released`: an owner that ends so died or failed owning
   * the mutex, or (`abandoned`) its dedicated thread exited owning it, which frees it.
   */
  private passEnded(phase: Phase): void {
    this.deliver(phase);
    const owner = this.owners.get(phase.workId);
    if (owner === undefined) return;
    this.owners.delete(phase.workId);
    this.finishTurn(owner.mutex, owner.token);
  }

  private finishTurn(mutex: M, token: number): void {
    const turns = this.turns(mutex);
    if (token <= turns.finishedThrough) return;
    // In order (the usual case) it needs no set.
    if (token === turns.finishedThrough + 1) turns.finishedThrough = token;
    else (turns.finishedAhead ??= new Set()).add(token);
    for (;;) {
      while (turns.finishedAhead?.delete(turns.finishedThrough + 1)) turns.finishedThrough++;
      // The earliest held work whose turn has come. Its token can be at or below
      // finishedThrough when its thread died before its predecessor's turn ended.
      let ready: number | undefined;
      for (const waitingToken of turns.waiting?.keys() ?? []) {
        if (waitingToken <= turns.finishedThrough + 1 && (ready === undefined || waitingToken < ready)) ready = waitingToken;
      }
      if (ready === undefined) return;
      const workId = turns.waiting?.get(ready);
      turns.waiting?.delete(ready);
      const held = workId === undefined ? undefined : this.held.get(workId);
      if (workId !== undefined) this.held.delete(workId);
      // Re-pushing may end this work's turn too; the loop then releases the next one.
      for (const phase of held?.phases ?? []) this.push(mutex, phase);
    }
  }

  private turns(mutex: M): Turns {
    let turns = this.turnsByMutex.get(mutex);
    if (turns === undefined) {
      turns = newTurns(0);
      this.turnsByMutex.set(mutex, turns);
    }
    return turns;
  }
}
