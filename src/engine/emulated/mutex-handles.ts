/**
 * The engine's open mutex "handles": name → table slot. Names are process-local: two
 * engines (or two processes) never share a mutex.
 *
 * Like a kernel object, a slot outlives its handle while works still use it: closing a
 * name removes it at once, but the slot is freed (and may be reused for another name)
 * only when the last work that referenced it has reached its terminal phase. A reopened
 * name is a new mutex: free, fencing tokens from 1 again.
 */
import { EngineError } from '../errors.js';
import type { MutexOpened } from '../types.js';
import { checkMutexName } from './mutex-name.js';
import type { MutexTable } from './mutex-table.js';

export class MutexHandles {
  private readonly slots = new Map<string, number>();
  /** Works submitted and not terminal, per slot. */
  private readonly users = new Map<number, number>();
  /** Slots whose name was closed while works still used them. */
  private readonly closedInUse = new Set<number>();

  constructor(private readonly table: MutexTable) {}

  /** Open or create; `slot` is where the mutex lives (a new mutex when `existed` is false). */
  open(name: string): MutexOpened & { readonly slot: number } {
    const open = this.slots.get(name);
    if (open !== undefined) return { existed: true, slot: open };
    checkMutexName(name);
    const slot = this.table.allocate();
    this.slots.set(name, slot);
    return { existed: false, slot };
  }

  /** The slot of an open name; throws EngineError('mutex_not_open'). */
  slotOf(name: string): number {
    const slot = this.slots.get(name);
    if (slot === undefined) throw new EngineError('mutex_not_open', `mutex "${name}" is not open in this engine`);
    return slot;
  }

  close(name: string): void {
    const slot = this.slotOf(name);
    this.slots.delete(name);
    if (this.users.has(slot)) this.closedInUse.add(slot);
    else this.table.free(slot);
  }

  /** A work now references the slot. */
  use(slot: number): void {
    this.users.set(slot, (this.users.get(slot) ?? 0) + 1);
  }

  /** A work that referenced the slot is terminal. */
  unuse(slot: number): void {
    const left = (this.users.get(slot) ?? 1) - 1;
    if (left > 0) {
      this.users.set(slot, left);
      return;
    }
    this.users.delete(slot);
    if (this.closedInUse.delete(slot)) this.table.free(slot);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Forget every name (engine closed; no work is left). */
  closeAll(): void {
    for (const name of [...this.slots.keys()]) this.close(name);
  }
}
