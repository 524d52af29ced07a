/**
 * The shared mutex table: entries in SharedArrayBuffer chunks, allocated on the main
 * thread. It grows a chunk at a time (a SharedArrayBuffer cannot grow in place on every
 * Node we support); each new chunk is handed to the workers through `onChunk` before
 * any work that uses one of its entries is dispatched, so a worker always knows the entry
 * it is told to wait on.
 */
import { chunkBytes, clearEntry, entryRef, tableChunk, type EntryRef, type TableChunk } from './mutex-entry.js';

export type ChunkListener = (index: number, buffer: SharedArrayBuffer) => void;

export class MutexTable {
  private readonly chunks: TableChunk[] = [];
  /** Freed entries, reused first so the table stays as small as the peak number of mutexes. */
  private readonly freeEntries: number[] = [];
  private nextUnused = 0;

  constructor(readonly chunkEntries: number, private readonly onChunk: ChunkListener) {
    if (!Number.isInteger(chunkEntries) || chunkEntries < 1) throw new RangeError(`chunkEntries must be a positive integer, got ${chunkEntries}`);
  }

  /** A fresh entry: free, not abandoned, fencing counter 0. */
  allocate(): number {
    const reused = this.freeEntries.pop();
    if (reused !== undefined) return reused;
    const entry = this.nextUnused++;
    if (entry >= this.chunks.length * this.chunkEntries) this.addChunk();
    return entry;
  }

  /** Give an entry back. The caller guarantees no thread uses or waits on it any more. */
  free(entry: number): void {
    clearEntry(this.ref(entry));
    this.freeEntries.push(entry);
  }

  ref(entry: number): EntryRef {
    return entryRef(this.chunks, this.chunkEntries, entry);
  }

  /** The chunks that exist now, for a worker being spawned. */
  buffers(): SharedArrayBuffer[] {
    return this.chunks.map((chunk) => chunk.words.buffer as SharedArrayBuffer);
  }

  get capacity(): number {
    return this.chunks.length * this.chunkEntries;
  }

  private addChunk(): void {
    const buffer = new SharedArrayBuffer(chunkBytes(this.chunkEntries));
    const index = this.chunks.push(tableChunk(buffer)) - 1;
    this.onChunk(index, buffer);
  }
}
