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
 */
import type { AcquiredPhase, Ns, Phase, ReleasedPhase } from './types.js';

interface Turns {
  /** Every token up to this one has finished its turn (its terminal phase went out). */
  finishedThrough: number;
  /** Tokens that finished out of order, waiting for the ones before them. */
  readonly finishedAhead: Set<number>;
  /** Works whose `acquired` waits for an earlier turn, by fencing token. */
  readonly waiting: Map<number, string>;
  /** `released` phases, by the releaser's token, waiting for the next owner's `acquired`. */
  readonly deferredReleases: Map<number, ReleasedPhase>;
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

function isTerminal(phase: Phase): boolean {
  return phase.type === 'released' || phase.type === 'abandoned' || phase.type === 'timed_out' ||
    phase.type === 'cancelled' || phase.type === 'failed';
}

function newTurns(finishedThrough: number): Turns {
  return { finishedThrough, finishedAhead: new Set(), waiting: new Map(), deferredReleases: new Map() };
}

function stampedNoLaterThan(phase: ReleasedPhase, atNs: Ns): ReleasedPhase {
  return phase.atNs <= atNs ? phase : { ...phase, atNs };
}

/** A semaphore's holders as delivered: `acquired` went out, the terminal phase has not. */
interface Units {
  readonly maximumCount: number;
  readonly holders: Set<string>;
  /** Works whose `acquired` waits for a delivered holder to end, by arrival. */
  readonly queue: string[];
}

export class HandoffOrder<M> {
  private readonly turnsByMutex = new Map<M, Turns>();
  private readonly unitsBySemaphore = new Map<M, Units>();
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
    this.turnsByMutex.set(mutex, newTurns(lastToken));
  }

  /**
   * A semaphore: an `acquired` is held back while this engine's delivered holders not
   * yet ended number maximumCount (the unit it took came from a release whose terminal
   * phase is still on its way), so the service never sees more holders than that.
   */
  newSemaphore(semaphore: M, maximumCount: number): void {
    this.forget(semaphore);
    this.unitsBySemaphore.set(semaphore, { maximumCount, holders: new Set(), queue: [] });
  }

  /**
   * The mutex is gone and no work uses it: deliver whatever it still holds (nothing,
   * when every turn ended; a phase is never lost anyway) and drop its state.
   */
  forget(mutex: M): void {
    if (this.unitsBySemaphore.delete(mutex)) {
      this.deliverHeld([...this.held.values()].filter((held) => held.mutex === mutex));
      return;
    }
    const turns = this.turnsByMutex.get(mutex);
    if (turns === undefined) return;
    this.turnsByMutex.delete(mutex);
    for (const phase of turns.deferredReleases.values()) this.deliver(phase);
    this.deliverHeld([...this.held.values()].filter((held) => held.mutex === mutex));
  }

  /** The next phase of a work on `mutex`; phases of one work come in their own order. */
  push(mutex: M, phase: Phase): void {
    const held = this.held.get(phase.workId);
    if (held !== undefined) {
      held.phases.push(phase);
      return;
    }
    const units = this.unitsBySemaphore.get(mutex);
    if (units !== undefined) return this.passUnit(mutex, units, phase);
    switch (phase.type) {
      case 'acquired': return this.passAcquired(mutex, phase);
      case 'released': return this.passReleased(phase);
      case 'timed_out': case 'cancelled': case 'failed': return this.passEnded(phase);
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
    const deferred = turns.deferredReleases.get(token - 1);
    if (deferred !== undefined) {
      turns.deferredReleases.delete(token - 1);
      this.deliver(deferred);
      this.finishTurn(mutex, token - 1);
    }
    this.finishTurn(mutex, token);
  }

  /** Deliver whatever is still held, in token order. Only for shutdown, when no phase can come any more. */
  flush(): void {
    for (const turns of this.turnsByMutex.values()) {
      for (const phase of turns.deferredReleases.values()) this.deliver(phase);
      turns.deferredReleases.clear();
      turns.waiting.clear();
    }
    for (const units of this.unitsBySemaphore.values()) units.queue.length = 0;
    this.deliverHeld([...this.held.values()]);
  }

  private passUnit(semaphore: M, units: Units, phase: Phase): void {
    if (phase.type === 'acquired') {
      if (units.holders.size >= units.maximumCount) {
        units.queue.push(phase.workId);
        this.held.set(phase.workId, { mutex: semaphore, phases: [phase] });
        return;
      }
      units.holders.add(phase.workId);
      this.deliver(phase);
      return;
    }
    this.deliver(phase);
    if (!isTerminal(phase) || !units.holders.delete(phase.workId)) return;
    while (units.holders.size < units.maximumCount && units.queue.length > 0) {
      const next = units.queue.shift()!;
      const held = this.held.get(next);
      this.held.delete(next);
      for (const p of held?.phases ?? []) this.passUnit(semaphore, units, p);
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
    const deferred = turns.deferredReleases.get(previous);
    if (deferred !== undefined) {
      turns.deferredReleases.delete(previous);
      this.deliver(stampedNoLaterThan(deferred, phase.atNs));
      this.finishTurn(mutex, previous);
    }
    if (phase.fencingToken > turns.finishedThrough + 1) {
      turns.waiting.set(phase.fencingToken, phase.workId);
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
    const nextWorkId = turns.waiting.get(next);
    const nextAcquired = nextWorkId === undefined ? undefined : this.held.get(nextWorkId)?.phases[0];
    if (nextAcquired !== undefined) {
      this.deliver(stampedNoLaterThan(phase, nextAcquired.atNs));
    } else if (this.lastTokenOf(mutex) >= next) {
      // The next owner has stamped its acquisition; its `acquired` is on its way.
      turns.deferredReleases.set(token, phase);
      return;
    } else {
      // No next acquisition yet: whichever comes will be stamped after this moment.
      this.deliver(phase);
    }
    this.finishTurn(mutex, token);
  }

  /** A terminal phase other than `released`: an owner that ends so died or failed owning the mutex. */
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
