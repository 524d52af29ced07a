/**
 * Running totals of work transitions since the process started, kept from the work
 * events: how many works are queued, waiting and holding now, and how many ended in
 * each terminal state. Unlike counting the retained works these survive eviction
 * (WORK_HISTORY) and cost O(1) to read, so /v1/status and /metrics can be polled often.
 */
import type { WorkEventType } from '../schemas/events.js';
import type { TerminalState, UnfinishedState } from '../schemas/work.js';

const NEXT: Partial<Record<WorkEventType, UnfinishedState>> = { 'work.queued': 'queued', 'work.started': 'waiting', 'work.acquired': 'holding' };

export class WorkTotals {
  private submittedCount = 0;
  private readonly now: Record<UnfinishedState, number> = { queued: 0, waiting: 0, holding: 0 };
  private readonly ended: Record<TerminalState, number> = { released: 0, abandoned: 0, timed_out: 0, cancelled: 0, failed: 0 };
  /** Where each unfinished work is, so a terminal event knows which count to leave. */
  private readonly live = new Map<string, UnfinishedState>();

  onTransition(workId: string, type: WorkEventType): void {
    // Neither moves a work between states: the lease's end is followed by the work's own.
    if (type === 'work.returned' || type === 'work.lease_expired') return;
    if (type === 'work.queued') this.submittedCount++;
    const before = this.live.get(workId);
    if (before !== undefined) this.now[before]--;
    const next = NEXT[type];
    if (next !== undefined) {
      this.now[next]++;
      this.live.set(workId, next);
    } else {
      this.live.delete(workId);
      this.ended[type.slice('work.'.length) as TerminalState]++;
    }
  }

  get submitted(): number { return this.submittedCount; }
  unfinished(): Record<UnfinishedState, number> { return { ...this.now }; }
  finished(): Record<TerminalState, number> { return { ...this.ended }; }
}
