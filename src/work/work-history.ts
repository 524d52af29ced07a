/**
 * Retention: every unfinished work, and the last WORK_HISTORY finished ones; the oldest
 * finished work is evicted first. Iterates in submission order (lists page through it).
 */
import type { WorkRecord } from './work-record.js';

export class WorkHistory {
  private readonly works = new Map<string, WorkRecord>();
  /** Finished works in the order they finished: the eviction queue. */
  private readonly finished: WorkRecord[] = [];
  private finishedHead = 0;

  /** @param onEvict called for each work as it leaves (its idempotency key goes with it) */
  constructor(readonly limit: number, private readonly onEvict: (work: WorkRecord) => void) {}

  get size(): number { return this.works.size; }

  get(id: string): WorkRecord | undefined { return this.works.get(id); }

  values(): IterableIterator<WorkRecord> { return this.works.values(); }

  add(work: WorkRecord): void { this.works.set(work.id, work); }

  /** The work turned terminal: it joins the eviction queue, and the oldest beyond the limit go. */
  finish(work: WorkRecord): void {
    this.finished.push(work);
    while (this.finished.length - this.finishedHead > this.limit) {
      const oldest = this.finished[this.finishedHead]!;
      this.finished[this.finishedHead++] = undefined as unknown as WorkRecord; // drop the reference
      this.works.delete(oldest.id);
      this.onEvict(oldest);
    }
    // Compact the queue now and then instead of shifting on every eviction.
    if (this.finishedHead > 1024 && this.finishedHead * 2 > this.finished.length) {
      this.finished.splice(0, this.finishedHead);
      this.finishedHead = 0;
    }
  }
}
