/**
 * The engine's open mutex "handles": name → kernel name → table entry. Names are
 * process-local: two engines (or two processes) never share a mutex.
 *
 * Like Windows, one object can have several names: every spelling with the same kernel
 * name (see sessionKernelName: a bare `x` and `Local\x`, and in session 0 `Global\x`
 * too) opens the same entry, so they share state and fencing tokens. The object lives
 * while any of its names is open.
 *
 * Like a kernel object, an entry outlives its handles while works still use it: closing
 * the last name removes the object at once, but the entry is freed (and may be reused
 * for another object) only when the last work that referenced it has reached its
 * terminal phase. A reopened name is a new object (free, not abandoned) whose fencing
 * tokens continue where the closed one stopped: tokens for a kernel name never go
 * backwards while this engine lives, whatever was closed in between.
 */
import { EngineError } from '../errors.js';
import { checkMutexName, sessionKernelName } from '../mutex-name.js';
import type { MutexOpened } from '../types.js';
import { continueFencing, lastFencingToken } from './mutex-entry.js';
import type { MutexTable } from './mutex-table.js';

interface OpenObject {
  readonly entry: number;
  /** The names this object is open under. */
  readonly names: Set<string>;
}

export class MutexHandles {
  /** Open names → kernel name. */
  private readonly kernelNames = new Map<string, string>();
  private readonly objects = new Map<string, OpenObject>();
  /** The last fencing token of every closed object, by kernel name. */
  private readonly lastTokens = new Map<string, number>();
  /** Works submitted and not terminal, per entry. */
  private readonly users = new Map<number, number>();
  /** Entries whose object was closed while works still used them. */
  private readonly closedInUse = new Set<number>();

  constructor(private readonly table: MutexTable, private readonly session: number) {}

  /** Open or create; `entry` is where the mutex lives (a new mutex when `existed` is false). */
  open(name: string): MutexOpened & { readonly entry: number; readonly lastToken: number } {
    const known = this.kernelNames.get(name);
    if (known !== undefined) return this.openAgain(name, known);
    checkMutexName(name);
    const kernelName = sessionKernelName(name, this.session);
    if (this.objects.has(kernelName)) return this.openAgain(name, kernelName);
    const entry = this.table.allocate();
    const lastToken = this.lastTokens.get(kernelName) ?? 0;
    continueFencing(this.table.ref(entry), lastToken);
    this.objects.set(kernelName, { entry, names: new Set([name]) });
    this.kernelNames.set(name, kernelName);
    return { existed: false, kernelName, entry, lastToken };
  }

  /** The entry of an open name; throws EngineError('mutex_not_open'). */
  entryOf(name: string): number {
    return this.objectOf(name).entry;
  }

  close(name: string): void {
    const object = this.objectOf(name);
    const kernelName = this.kernelNames.get(name) ?? '';
    this.kernelNames.delete(name);
    object.names.delete(name);
    if (object.names.size > 0) return;
    this.objects.delete(kernelName);
    this.lastTokens.set(kernelName, lastFencingToken(this.table.ref(object.entry)));
    if (this.users.has(object.entry)) this.closedInUse.add(object.entry);
    else this.table.free(object.entry);
  }

  /** A work now references the entry. */
  use(entry: number): void {
    this.users.set(entry, (this.users.get(entry) ?? 0) + 1);
  }

  /** A work that referenced the entry is terminal. */
  unuse(entry: number): void {
    const left = (this.users.get(entry) ?? 1) - 1;
    if (left > 0) {
      this.users.set(entry, left);
      return;
    }
    this.users.delete(entry);
    if (this.closedInUse.delete(entry)) this.table.free(entry);
  }

  /** Open names. */
  get size(): number {
    return this.kernelNames.size;
  }

  /** Forget every name (engine closed; no work is left). */
  closeAll(): void {
    for (const name of [...this.kernelNames.keys()]) this.close(name);
  }

  private openAgain(name: string, kernelName: string): MutexOpened & { readonly entry: number; readonly lastToken: number } {
    const object = this.objects.get(kernelName);
    if (object === undefined) throw new Error(`mutex ${name}: kernel name ${kernelName} has no object`);
    object.names.add(name);
    this.kernelNames.set(name, kernelName);
    return { existed: true, kernelName, entry: object.entry, lastToken: lastFencingToken(this.table.ref(object.entry)) };
  }

  private objectOf(name: string): OpenObject {
    const kernelName = this.kernelNames.get(name);
    const object = kernelName === undefined ? undefined : this.objects.get(kernelName);
    if (object === undefined) throw new EngineError('mutex_not_open', `mutex "${name}" is not open in this engine`);
    return object;
  }
}
