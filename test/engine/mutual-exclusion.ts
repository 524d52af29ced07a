/**
 * The mutual-exclusion check of docs/design.md §4.1 on one engine's timestamps. Per mutex, the
 * works that acquired it, in acquisition order:
 *
 * - fencing tokens strictly increase;
 * - the intervals [acquired, released] do not overlap: released(prev) ≤ acquired(next).
 *   A worker or pool thread can only stamp `released` after the release, possibly after
 *   the next owner stamped `acquired`; both engines then report the smaller stamp
 *   (docs/design.md §1.4), so the engine's own timestamps never overlap;
 * - the callback body had returned before the next owner acquired:
 *   returned(prev) ≤ acquired(next);
 * - delivery follows the same order (the engine contract, docs/design.md §1.4): acquired
 *   phases come in acquisition order, and returned(prev) and released(prev) come before
 *   acquired(next).
 */
import { nameOf, type EngineHarness, type PhaseOf } from './harness.js';

interface Holding {
  readonly workId: string;
  readonly acquired: PhaseOf<'acquired'>;
  readonly returned: PhaseOf<'returned'> | undefined;
  readonly released: PhaseOf<'released'> | undefined;
}

export function mutualExclusionViolations(harness: EngineHarness, workIds: readonly string[]): string[] {
  const byMutex = new Map<string, Holding[]>();
  for (const workId of workIds) {
    const acquired = harness.phase(workId, 'acquired');
    const spec = harness.specs.get(workId);
    if (acquired === undefined || spec === undefined) continue;
    const holdings = byMutex.get(nameOf(spec)) ?? [];
    holdings.push({ workId, acquired, returned: harness.phase(workId, 'returned'), released: harness.phase(workId, 'released') });
    byMutex.set(nameOf(spec), holdings);
  }

  const violations: string[] = [];
  for (const [mutex, holdings] of byMutex) {
    holdings.sort((a, b) => (a.acquired.atNs < b.acquired.atNs ? -1 : a.acquired.atNs > b.acquired.atNs ? 1 : 0));
    for (let i = 0; i < holdings.length; i++) {
      const current = holdings[i];
      const next = holdings[i + 1];
      if (current === undefined) continue;
      const { returned, released } = current;
      if (returned === undefined || released === undefined) {
        violations.push(`${mutex}: ${current.workId} acquired but has no returned/released phase`);
        continue;
      }
      if (!(current.acquired.atNs <= returned.atNs && returned.atNs <= released.atNs)) {
        violations.push(`${mutex}: ${current.workId} acquired/returned/released timestamps out of order`);
      }
      if (next === undefined) continue;
      if (next.acquired.fencingToken <= current.acquired.fencingToken) {
        violations.push(`${mutex}: fencing token ${next.acquired.fencingToken} (${next.workId}) after ${current.acquired.fencingToken} (${current.workId})`);
      }
      if (harness.deliveredAt(next.acquired) < harness.deliveredAt(returned)) {
        violations.push(`${mutex}: acquired(${next.workId}) was delivered before returned(${current.workId})`);
      }
      if (harness.deliveredAt(next.acquired) < harness.deliveredAt(released)) {
        violations.push(`${mutex}: acquired(${next.workId}) was delivered before released(${current.workId})`);
      }
      if (returned.atNs > next.acquired.atNs) {
        violations.push(`${mutex}: ${next.workId} acquired at ${next.acquired.atNs} while ${current.workId} held it until ${returned.atNs} (not returned yet)`);
      }
      if (released.atNs > next.acquired.atNs) {
        violations.push(`${mutex}: ${current.workId} released at ${released.atNs}, after ${next.workId} acquired at ${next.acquired.atNs}`);
      }
    }
  }
  return violations;
}
