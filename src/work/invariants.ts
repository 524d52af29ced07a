/**
 * Mutual-exclusion checks on what the engine reports (docs/design.md §4.1): a history
 * that breaks mutual exclusion is reported — on the work, to the log and in
 * tpmutex_invariant_violations_total — never smoothed over. Checks only: nothing here
 * changes the order in which phases are published.
 */
import type { Phase } from '../engine/types.js';
import type { MutexRecord } from '../mutex/registry.js';
import type { SemaphoreRecord } from '../semaphore/registry.js';
import type { InvariantViolation, WorkRecord } from './work-record.js';

export type ViolationListener = (work: WorkRecord, violation: InvariantViolation) => void;

export class InvariantChecks {
  constructor(private readonly onViolation: ViolationListener | undefined) {}

  /**
   * `acquired(next)` arrived while `previous` still owned the mutex: the engine has not
   * delivered its `released`, which it must do first (docs/design.md §1.4).
   */
  acquiredWhileHeld(mutex: MutexRecord, next: WorkRecord, phase: Phase, previous: WorkRecord): void {
    const how = previous.returnedNs === null ? 'had not returned' : 'had returned but was not reported released';
    this.violate(next, {
      kind: 'acquired_while_held', previousWorkId: previous.id,
      detail: `work ${next.id} acquired ${mutex.name} (at ${phase.atNs} ns) while work ${previous.id} owned it and ${how}`,
    });
  }

  /** After a phase was applied to `work`: checks an acquisition's stamp, remembers a release. */
  observe(mutex: MutexRecord, work: WorkRecord, phase: Phase): void {
    if (phase.type === 'acquired') this.checkReleaseStamp(mutex, work);
    if (phase.type === 'released') mutex.lastRelease = { workId: work.id, atNs: phase.atNs };
  }

  /**
   * Engine contract: a `released` stamp is no later than the next acquisition of the
   * same mutex, so the [acquired, released] intervals never overlap on the engine clock.
   */
  private checkReleaseStamp(mutex: MutexRecord, next: WorkRecord): void {
    const last = mutex.lastRelease;
    if (last === null || next.acquiredNs === null || next.acquiredNs >= last.atNs) return;
    this.violate(next, {
      kind: 'released_after_acquired', previousWorkId: last.workId,
      detail: `work ${next.id} acquired ${mutex.name} at ${next.acquiredNs} ns, before work ${last.workId}'s release at ${last.atNs} ns`,
    });
  }

  /**
   * After an acquisition of a semaphore was counted: this service's holders can never
   * be more than its maximumCount (HandoffOrder holds back an `acquired` whose unit came
   * from a release still in flight, docs/design.md §1.4).
   */
  semaphoreAcquired(semaphore: SemaphoreRecord, work: WorkRecord): void {
    if (semaphore.holders.size <= semaphore.maximumCount) return;
    const oldest = semaphore.holders.keys().next().value ?? work.id;
    this.violate(work, {
      kind: 'semaphore_over_maximum', previousWorkId: oldest,
      detail: `work ${work.id} acquired ${semaphore.name} while ${semaphore.holders.size - 1} works of this service held its ${semaphore.maximumCount} units`,
    });
  }

  private violate(work: WorkRecord, violation: InvariantViolation): void {
    work.invariantViolation = violation;
    this.onViolation?.(work, violation);
  }
}
