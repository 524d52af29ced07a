/**
 * The win32 engine's open kernel objects of one kind (mutexes, semaphores or events):
 * name → one handle per kernel object, and for mutexes and semaphores one native record
 * (the handle and the fencing / acquisition counter). Spellings with one kernel name
 * share both. Closing a name closes the handle only after the last job slot launched
 * with it was handed back: the pool performs the return actions (release the mutex or
 * the semaphore unit, set the event) after the callback returned, and on Windows acting
 * on a closed handle kills the process. Counters continue across a close and reopen of a
 * kernel name. A name that is another kind of object fails in the OS
 * (ERROR_INVALID_HANDLE → name_conflict), so the three kinds share one namespace.
 */
import { EngineError } from '../errors.js';
import type { HandoffOrder } from '../handoff-order.js';
import { mutexOpenError, toEngineError, type Existence } from './engine-errors.js';
import type { ObjectKind, OpenObject } from './job.js';
import type { HANDLE, PVOID, Win32Native } from './native.js';
import type { NativeResources } from './native-resources.js';
import { ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_FILE_NOT_FOUND, Win32Error } from './win32-error.js';

/** How one kind is created and looked up in the OS. */
export interface ObjectKindOps {
  readonly kind: ObjectKind;
  create(native: Win32Native, name: string): { handle: HANDLE; lastError: number };
  /** Opens with SYNCHRONIZE only (throws Win32Error): does an object of that name exist? */
  openForExistence(native: Win32Native, name: string): HANDLE;
  /** The object's own maximum (semaphores), read from the OS; 0 for other kinds. */
  maximumOf(native: Win32Native, handle: HANDLE): number;
}

export interface Opened {
  readonly existed: boolean;
  readonly kernelName: string;
  readonly object: OpenObject;
}

export class OpenObjects {
  private readonly byName = new Map<string, OpenObject>();
  /** Closed, handle still open until their last job slot is handed back. */
  private readonly closing = new Set<OpenObject>();
  /** Last counter value of closed objects by kernel name, so a reopened one keeps counting up. */
  private readonly fencingOfClosed = new Map<string, number>();

  constructor(private readonly ops: ObjectKindOps, private readonly handoffs: HandoffOrder<OpenObject>) {}

  /** Opens or creates `name` (already checked) and keeps its handle. Throws EngineError. */
  open(res: NativeResources, name: string, create: (native: Win32Native) => { handle: HANDLE; lastError: number } = (n) => this.ops.create(n, name)): Opened {
    const { native } = res;
    const { kind } = this.ops;
    const open = this.byName.get(name);
    if (open !== undefined) return { existed: true, kernelName: open.kernelName, object: open };
    let opened: { handle: HANDLE; lastError: number };
    try {
      opened = create(native);
    } catch (err) {
      throw mutexOpenError(err, name, () => this.existence(native, name), kind);
    }
    let kernelName: string;
    let maximumCount: number;
    try {
      kernelName = native.NtQueryObjectName(opened.handle);
      maximumCount = this.ops.maximumOf(native, opened.handle);
    } catch (err) {
      native.CloseHandle(opened.handle);
      throw toEngineError(err);
    }
    const same = this.withKernelName(kernelName);
    if (same !== undefined) {
      // Another spelling of an object already open (a bare name and Local\, or in
      // session 0 Local\ and Global\): one handle and one counter serve both.
      native.CloseHandle(opened.handle);
      same.names.push(name); // not open under it yet: byName had no entry
      this.byName.set(name, same);
      return { existed: true, kernelName, object: same };
    }
    const lastToken = this.fencingOfClosed.get(kernelName) ?? 0;
    let record: PVOID = 0n;
    if (kind !== 'event') {
      try {
        record = res.allocMutex(opened.handle, lastToken);
      } catch (err) {
        native.CloseHandle(opened.handle);
        throw toEngineError(err);
      }
    }
    const object: OpenObject = {
      kind, handle: opened.handle, kernelName, names: [name], record, maximumCount, unended: 0, launched: 0, closed: false,
    };
    this.byName.set(name, object);
    if (kind === 'mutex') this.handoffs.newMutex(object, lastToken);
    else if (kind === 'semaphore') this.handoffs.newSemaphore(object, maximumCount);
    return { existed: opened.lastError === ERROR_ALREADY_EXISTS, kernelName, object };
  }

  /** Throws EngineError('mutex_not_open' / 'object_not_open'). */
  of(name: string): OpenObject {
    const object = this.byName.get(name);
    if (object === undefined) {
      throw new EngineError(this.ops.kind === 'mutex' ? 'mutex_not_open' : 'object_not_open', `${this.ops.kind} ${name} is not open in this engine`);
    }
    return object;
  }

  /** The last counter value issued on it (the native counter while it is open). */
  lastToken(native: Win32Native, object: OpenObject): number {
    return object.closed || object.record === 0n ? this.fencingOfClosed.get(object.kernelName) ?? 0 : native.readFencing(object.record);
  }

  /**
   * Refuses (mutex_in_use / object_in_use) while a work on it has not ended, whatever
   * the caller believes. Works that ended may still have a callback on a pool thread
   * (their slot is not handed back yet): then the handle and record close at the last
   * handback, never under a pool thread.
   */
  close(res: NativeResources, name: string): void {
    const object = this.of(name);
    if (object.unended > 0) {
      throw new EngineError(this.ops.kind === 'mutex' ? 'mutex_in_use' : 'object_in_use',
        `${this.ops.kind} ${name} is used by ${object.unended} work(s) of this engine that have not ended`);
    }
    this.byName.delete(name);
    const at = object.names.indexOf(name);
    if (at >= 0) object.names.splice(at, 1);
    if (object.names.length > 0) return; // still open under another name of the same object
    if (object.record !== 0n) {
      this.fencingOfClosed.set(object.kernelName, Math.max(res.native.readFencing(object.record), this.fencingOfClosed.get(object.kernelName) ?? 0));
    }
    object.closed = true;
    if (object.launched > 0) { this.closing.add(object); return; }
    this.closeNow(res, object);
  }

  /** A job slot launched with it was handed back: a closed object's handle closes with the last one. */
  handedBack(res: NativeResources, object: OpenObject): void {
    object.launched--;
    if (!object.closed || object.launched > 0) return;
    this.closing.delete(object);
    // Nobody is left to tell about a failure, and it must not stop the drain.
    try { this.closeNow(res, object); } catch { /* the handle is unusable either way */ }
  }

  /** Every record still allocated, once (aliases share one); forgets them all. */
  takeAll(): Set<OpenObject> {
    const all = new Set([...this.byName.values(), ...this.closing]);
    this.byName.clear();
    this.closing.clear();
    return all;
  }

  private withKernelName(kernelName: string): OpenObject | undefined {
    for (const open of this.byName.values()) if (open.kernelName === kernelName) return open;
    return undefined;
  }

  private closeNow(res: NativeResources, object: OpenObject): void {
    this.handoffs.forget(object);
    try {
      res.closeObject(object);
    } catch (err) {
      throw toEngineError(err);
    }
  }

  /** Whether an object of that name exists: a handle with no more access than SYNCHRONIZE tells. */
  private existence(native: Win32Native, name: string): Existence {
    try {
      native.CloseHandle(this.ops.openForExistence(native, name));
      return 'exists';
    } catch (err) {
      if (err instanceof Win32Error && err.code === ERROR_FILE_NOT_FOUND) return 'missing';
      return err instanceof Win32Error && err.code === ERROR_ACCESS_DENIED ? 'exists' : 'unknown';
    }
  }
}

export const MUTEX_OPS: ObjectKindOps = {
  kind: 'mutex',
  create: (native, name) => native.CreateMutexExW(name),
  openForExistence: (native, name) => native.OpenMutexW(name),
  maximumOf: () => 0,
};

/** openSemaphore passes its own create (with the init); the default is never used. */
export const SEMAPHORE_OPS: ObjectKindOps = {
  kind: 'semaphore',
  create: (native, name) => native.CreateSemaphoreExW(name, 0, 1),
  openForExistence: (native, name) => native.OpenSemaphoreW(name),
  maximumOf: (native, handle) => native.NtQuerySemaphore(handle).MaximumCount,
};

/** openEvent passes its own create (with the init). */
export const EVENT_OPS: ObjectKindOps = {
  kind: 'event',
  create: (native, name) => native.CreateNamedEventExW(name, true, false),
  openForExistence: (native, name) => native.OpenEventW(name),
  maximumOf: () => 0,
};
