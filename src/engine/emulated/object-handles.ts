/**
 * The engine's open object "handles": name → kernel name → table entry, for mutexes,
 * semaphores and events alike. Names are process-local: two engines (or two processes)
 * never share an object.
 *
 * One namespace across the three kinds, as in the Windows object manager: a kernel name
 * that is open as one kind cannot be opened as another (Win32: ERROR_INVALID_HANDLE from
 * CreateMutexExW / CreateSemaphoreExW / CreateEventExW), which is `name_conflict`.
 *
 * Like Windows, one object can have several names: every spelling with the same kernel
 * name (see sessionKernelName: a bare `x` and `Local\x`, and in session 0 `Global\x`
 * too) opens the same entry, so they share state and fencing tokens. The object lives
 * while any of its names is open.
 *
 * Like a kernel object, an entry outlives its handles while works still use it: closing
 * the last name removes the object at once, but the entry is freed (and may be reused
 * for another object) only when the last work that referenced it has reached its
 * terminal phase. A reopened name is a new object whose fencing (or acquisition)
 * sequence continues where the closed one stopped: tokens for a kernel name never go
 * backwards while this engine lives, whatever was closed in between.
 */
import { EngineError } from '../errors.js';
import { checkMutexName, sessionKernelName } from '../mutex-name.js';
import type { MutexOpened } from '../types.js';
import { continueFencing, lastFencingToken } from './mutex-entry.js';
import type { MutexTable } from './mutex-table.js';

export type ObjectKind = 'mutex' | 'semaphore' | 'event';

interface OpenObject {
  readonly kind: ObjectKind;
  readonly entry: number;
  /** The names this object is open under: nearly always one, so an array (an empty-ish Set costs ~140 B per object). */
  readonly names: string[];
}

export interface OpenedEntry extends MutexOpened {
  /** Where the object lives (a fresh entry when `existed` is false). */
  readonly entry: number;
  readonly lastToken: number;
}

export class ObjectHandles {
  /** Open names → kernel name. */
  private readonly kernelNames = new Map<string, string>();
  private readonly objects = new Map<string, OpenObject>();
  /** The last fencing token of every closed object, by kind and kernel name. */
  private readonly lastTokens = new Map<string, number>();
  /** Works submitted and not terminal, per entry. */
  private readonly users = new Map<number, number>();
  /** Entries whose object was closed while works still used them. */
  private readonly closedInUse = new Set<number>();

  constructor(private readonly table: MutexTable, private readonly session: number) {}

  /**
   * Open or create. `init` prepares a fresh entry before anything can see it. Throws
   * EngineError('name_conflict') when the kernel name is open as another kind.
   */
  open(name: string, kind: ObjectKind, init: (entry: number) => void = () => undefined): OpenedEntry {
    checkMutexName(name, kind);
    const kernelName = this.kernelNames.get(name) ?? sessionKernelName(name, this.session);
    const existing = this.objects.get(kernelName);
    if (existing !== undefined) {
      if (existing.kind !== kind) {
        throw new EngineError('name_conflict', `"${name}" is a ${existing.kind}, not a ${kind} (one namespace for every kind of object, as in Windows)`);
      }
      if (!existing.names.includes(name)) existing.names.push(name);
      this.kernelNames.set(name, kernelName);
      return { existed: true, kernelName, entry: existing.entry, lastToken: lastFencingToken(this.table.ref(existing.entry)) };
    }
    const entry = this.table.allocate();
    const lastToken = this.lastTokens.get(`${kind}:${kernelName}`) ?? 0;
    continueFencing(this.table.ref(entry), lastToken);
    init(entry);
    this.objects.set(kernelName, { kind, entry, names: [name] });
    this.kernelNames.set(name, kernelName);
    return { existed: false, kernelName, entry, lastToken };
  }

  /** The entry of an open name of that kind; throws EngineError('mutex_not_open' | 'object_not_open'). */
  entryOf(name: string, kind: ObjectKind): number {
    return this.objectOf(name, kind).entry;
  }

  /**
   * Close one name. A semaphore or event that a work still uses is refused with
   * EngineError('object_in_use'); a mutex is not (the service guarantees no work uses
   * it, and its entry stays valid until that work ends).
   */
  close(name: string, kind: ObjectKind): void {
    const object = this.objectOf(name, kind);
    if (kind !== 'mutex' && this.users.has(object.entry)) {
      throw new EngineError('object_in_use', `${kind} "${name}" is used by a work that has not ended`);
    }
    this.remove(name, object);
  }

  private remove(name: string, object: OpenObject): void {
    const { kind } = object;
    const kernelName = this.kernelNames.get(name) ?? '';
    this.kernelNames.delete(name);
    const at = object.names.indexOf(name);
    if (at >= 0) object.names.splice(at, 1);
    if (object.names.length > 0) return;
    this.objects.delete(kernelName);
    this.lastTokens.set(`${kind}:${kernelName}`, lastFencingToken(this.table.ref(object.entry)));
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
    for (const [name, kernelName] of [...this.kernelNames]) {
      const object = this.objects.get(kernelName);
      if (object !== undefined) this.remove(name, object);
    }
  }

  private objectOf(name: string, kind: ObjectKind): OpenObject {
    const kernelName = this.kernelNames.get(name);
    const object = kernelName === undefined ? undefined : this.objects.get(kernelName);
    if (object === undefined || object.kind !== kind) {
      throw kind === 'mutex'
        ? new EngineError('mutex_not_open', `mutex "${name}" is not open in this engine`)
        : new EngineError('object_not_open', `${kind} "${name}" is not open in this engine`);
    }
    return object;
  }
}
