/**
 * The win32 engine's open mutexes: name → one handle and one native mutex record (the
 * handle and the fencing counter) per kernel object. Spellings with one kernel name
 * share both. Closing a name closes the handle only after the last job slot launched
 * with it was handed back: the pool releases the mutex after the callback returned, and
 * on Windows releasing a closed handle kills the process. Fencing tokens continue across
 * a close and reopen of a kernel name.
 */
import { EngineError } from '../errors.js';
import type { HandoffOrder } from '../handoff-order.js';
import type { MutexOpened } from '../types.js';
import { mutexOpenError, toEngineError, type Existence } from './engine-errors.js';
import type { OpenMutex } from './job.js';
import type { HANDLE, PVOID, Win32Native } from './native.js';
import type { NativeResources } from './native-resources.js';
import { ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_FILE_NOT_FOUND, Win32Error } from './win32-error.js';

export class OpenMutexes {
  private readonly byName = new Map<string, OpenMutex>();
  /** Closed, handle still open until their last job slot is handed back. */
  private readonly closing = new Set<OpenMutex>();
  /** Last fencing token of closed mutexes by kernel name, so a reopened mutex keeps counting up. */
  private readonly fencingOfClosed = new Map<string, number>();

  constructor(private readonly handoffs: HandoffOrder<OpenMutex>) {}

  /** Opens or creates `name` (already checked) and keeps its handle. Throws EngineError. */
  open(res: NativeResources, name: string): MutexOpened {
    const { native } = res;
    const open = this.byName.get(name);
    if (open !== undefined) return { existed: true, kernelName: open.kernelName };
    let opened: { handle: HANDLE; lastError: number };
    try {
      opened = native.CreateMutexExW(name);
    } catch (err) {
      throw mutexOpenError(err, name, () => existence(native, name));
    }
    let kernelName: string;
    try {
      kernelName = native.NtQueryObjectName(opened.handle);
    } catch (err) {
      native.CloseHandle(opened.handle);
      throw toEngineError(err);
    }
    const same = this.withKernelName(kernelName);
    if (same !== undefined) {
      // Another spelling of an object already open (a bare name and Local\, or in
      // session 0 Local\ and Global\): one handle and one fencing counter serve both.
      native.CloseHandle(opened.handle);
      same.names.add(name);
      this.byName.set(name, same);
      return { existed: true, kernelName };
    }
    const lastToken = this.fencingOfClosed.get(kernelName) ?? 0;
    let record: PVOID;
    try {
      record = res.allocMutex(opened.handle, lastToken);
    } catch (err) {
      native.CloseHandle(opened.handle);
      throw toEngineError(err);
    }
    const mutex: OpenMutex = { handle: opened.handle, kernelName, names: new Set([name]), record, unended: 0, launched: 0, closed: false };
    this.byName.set(name, mutex);
    this.handoffs.newMutex(mutex, lastToken);
    return { existed: opened.lastError === ERROR_ALREADY_EXISTS, kernelName };
  }

  /** Throws EngineError('mutex_not_open'). */
  of(name: string): OpenMutex {
    const mutex = this.byName.get(name);
    if (mutex === undefined) throw new EngineError('mutex_not_open', `mutex ${name} is not open in this engine`);
    return mutex;
  }

  /** The last fencing token issued on it (the native counter while it is open). */
  lastToken(native: Win32Native, mutex: OpenMutex): number {
    return mutex.closed ? this.fencingOfClosed.get(mutex.kernelName) ?? 0 : native.readFencing(mutex.record);
  }

  /**
   * Refuses (mutex_in_use) while a work on it has not ended, whatever the caller
   * believes. Works that ended may still have a callback on a pool thread (their
   * slot is not handed back yet): then the handle and record close at the last
   * handback, never under a pool thread.
   */
  close(res: NativeResources, name: string): void {
    const mutex = this.of(name);
    if (mutex.unended > 0) {
      throw new EngineError('mutex_in_use', `mutex ${name} is used by ${mutex.unended} work(s) of this engine that have not ended`);
    }
    this.byName.delete(name);
    mutex.names.delete(name);
    if (mutex.names.size > 0) return; // still open under another name of the same object
    this.fencingOfClosed.set(mutex.kernelName, Math.max(res.native.readFencing(mutex.record), this.fencingOfClosed.get(mutex.kernelName) ?? 0));
    mutex.closed = true;
    if (mutex.launched > 0) { this.closing.add(mutex); return; }
    this.closeNow(res, mutex);
  }

  /** A job slot launched with it was handed back: a closed mutex's handle closes with the last one. */
  handedBack(res: NativeResources, mutex: OpenMutex): void {
    mutex.launched--;
    if (!mutex.closed || mutex.launched > 0) return;
    this.closing.delete(mutex);
    // Nobody is left to tell about a failure, and it must not stop the drain.
    try { this.closeNow(res, mutex); } catch { /* the handle is unusable either way */ }
  }

  /** Every mutex record still allocated, once (aliases share one); forgets them all. */
  takeAll(): Set<OpenMutex> {
    const all = new Set([...this.byName.values(), ...this.closing]);
    this.byName.clear();
    this.closing.clear();
    return all;
  }

  private withKernelName(kernelName: string): OpenMutex | undefined {
    for (const open of this.byName.values()) if (open.kernelName === kernelName) return open;
    return undefined;
  }

  private closeNow(res: NativeResources, mutex: OpenMutex): void {
    this.handoffs.forget(mutex);
    try {
      res.closeMutex(mutex);
    } catch (err) {
      throw toEngineError(err);
    }
  }
}

/** Whether a mutex of that name exists: a handle with no more access than SYNCHRONIZE tells. */
function existence(native: Win32Native, name: string): Existence {
  try {
    native.CloseHandle(native.OpenMutexW(name));
    return 'exists';
  } catch (err) {
    if (err instanceof Win32Error && err.code === ERROR_FILE_NOT_FOUND) return 'missing';
    return err instanceof Win32Error && err.code === ERROR_ACCESS_DENIED ? 'exists' : 'unknown';
  }
}
