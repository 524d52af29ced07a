/**
 * The shared mutex table: slots in SharedArrayBuffer chunks, allocated on the main
 * thread. It grows a chunk at a time (a SharedArrayBuffer cannot grow in place on every
 * Node we support); each new chunk is handed to the workers through `onChunk` before
 * any work that uses one of its slots is dispatched, so a worker always knows the slot
 * it is told to wait on.
 */
import { chunkBytes, clearSlot, slotRef, tableChunk, type SlotRef, type TableChunk } from './mutex-slot.js';

export type ChunkListener = (index: number, buffer: SharedArrayBuffer) => void;

export class MutexTable {
  private readonly chunks: TableChunk[] = [];
  /** Freed slots, reused first so the table stays as small as the peak number of mutexes. */
  private readonly freeSlots: number[] = [];
  private nextUnused = 0;

  constructor(readonly chunkSlots: number, private readonly onChunk: ChunkListener) {
    if (!Number.isInteger(chunkSlots) || chunkSlots < 1) throw new RangeError(`chunkSlots must be a positive integer, got ${chunkSlots}`);
  }

  /** A fresh slot: free, not abandoned, fencing counter 0. */
  allocate(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.nextUnused++;
    if (slot >= this.chunks.length * this.chunkSlots) this.addChunk();
    return slot;
  }

  /** Give a slot back. The caller guarantees no thread uses or waits on it any more. */
  free(slot: number): void {
    clearSlot(this.ref(slot));
    this.freeSlots.push(slot);
  }

  ref(slot: number): SlotRef {
    return slotRef(this.chunks, this.chunkSlots, slot);
  }

  /** The chunks that exist now, for a worker being spawned. */
  buffers(): SharedArrayBuffer[] {
    return this.chunks.map((chunk) => chunk.words.buffer as SharedArrayBuffer);
  }

  get capacity(): number {
    return this.chunks.length * this.chunkSlots;
  }

  private addChunk(): void {
    const buffer = new SharedArrayBuffer(chunkBytes(this.chunkSlots));
    const index = this.chunks.push(tableChunk(buffer)) - 1;
    this.onChunk(index, buffer);
  }
}
