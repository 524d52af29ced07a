/**
 * The engine contract: the only boundary between the service and a platform.
 *
 * An engine holds named mutexes and runs work callbacks on a thread pool. A callback
 * waits for its mutex on the pool thread, spins/holds while owning it, returns, and the
 * engine releases the mutex after the return (on Windows the pool does that through
 * ReleaseMutexWhenCallbackReturns). Every step is reported as a {@link Phase}.
 *
 * Every engine passes the same conformance suite (test/engine/conformance.test.ts).
 */
import type { EngineError } from './errors.js';

export type EngineKind = 'emulated' | 'win32';

/** Monotonic nanoseconds on the engine's own clock; every phase timestamp uses it. */
export type Ns = bigint;

/**
 * What a work callback acquires on its pool thread: a mutex (the pool releases it when
 * the callback returns, ReleaseMutexWhenCallbackReturns), one unit of a semaphore
 * (ReleaseSemaphoreWhenCallbackReturns(instance, sem, 1)), or nothing (a work that only
 * sets an event on return). Names are already normalised (`Global\x` / `Local\x`).
 */
export type Acquire =
  | { readonly kind: 'mutex'; readonly name: string }
  | { readonly kind: 'semaphore'; readonly name: string }
  | { readonly kind: 'none' };

export type AcquireKind = Acquire['kind'];

/** What one work callback does. */
export interface WorkSpec {
  readonly workId: string;
  /** The object the callback waits for and owns; it must be open in this engine. */
  readonly acquire: Acquire;
  /**
   * An open event the pool sets when the callback returns (SetEventWhenCallbackReturns),
   * or null. Set on every return path, also after a timeout or a cancel once started.
   */
  readonly setEventOnReturn: string | null;
  /** 0 = try once and time out immediately if the object is not available. */
  readonly acquireTimeoutMs: number;
  /** CPU-bound work while owning the object, before the hold. Ends early on signal. */
  readonly spinMs: number;
  /** Upper bound of the hold after the spin; a signal ends it early. 0 = no hold. */
  readonly holdMs: number;
  /** Ask the pool for another thread because this callback may run long. */
  readonly mayRunLong: boolean;
}

/**
 * Abandonment on cue: acquire the mutex on a dedicated (non-pool) thread that then exits
 * without releasing it, so the next acquirer, here or in any process, gets WAIT_ABANDONED.
 * A pool thread cannot do this: the pool releases what the callback registered.
 * Phases: `started`, then `acquired` and `abandoned`, or `timed_out`/`cancelled`/`failed`.
 */
export interface AbandonSpec {
  readonly workId: string;
  /** An open mutex. */
  readonly mutex: string;
  readonly acquireTimeoutMs: number;
}

/**
 * The callback-return actions a work registered, in the order the pool performs them
 * (docs/design.md §1.3). Windows: critical section → mutex → event → semaphore →
 * library; Wine: mutex → semaphore → event. The emulated engine follows Windows.
 */
export type ReturnAction = 'release_mutex' | 'set_event' | 'release_semaphore';

interface PhaseBase {
  readonly workId: string;
  /** When the step happened, on the engine clock, taken on the thread that did it. */
  readonly atNs: Ns;
}

/** The callback began on a pool thread. */
export interface StartedPhase extends PhaseBase {
  readonly type: 'started';
  readonly threadId: number;
  /** Result of CallbackMayRunLong (true: the pool can grow), or null when not asked. */
  readonly mayRunLong: boolean | null;
}

/** The callback's thread owns the mutex now. */
export interface AcquiredPhase extends PhaseBase {
  readonly type: 'acquired';
  readonly threadId: number;
  /** The previous owner died holding it (WAIT_ABANDONED); the work owns it anyway. */
  readonly abandoned: boolean;
  /**
   * Per-mutex acquisition counter, strictly increasing, assigned while owning. Kept by
   * kernel name for the engine's lifetime: closing and reopening a mutex continues the
   * sequence (never back to 1), on every engine. A new process starts again from 1.
   */
  readonly fencingToken: number;
}

/** The callback body returned; the release is registered and follows. */
export interface ReturnedPhase extends PhaseBase {
  readonly type: 'returned';
  /** The hold or spin was ended by a signal (or by cancel, which acts as a signal). */
  readonly signaled: boolean;
}

/**
 * The mutex is free of this work: another thread or process can take it now. Terminal.
 * Delivered only after the release really happened. `atNs` is the engine's stamp of
 * the release, clamped to no later than the next acquisition of the same mutex (the
 * next waiter can stamp its `acquired` before the releasing side stamps `released`),
 * so for one mutex the [acquired.atNs, released.atNs] intervals never overlap on the
 * engine clock; it is never earlier than this work's `returned.atNs`.
 */
export interface ReleasedPhase extends PhaseBase {
  readonly type: 'released';
  /**
   * The return actions the pool performed, in its order; empty when the work owned
   * nothing and set no event. `atNs` is never earlier than the last of them.
   */
  readonly actions: readonly ReturnAction[];
}

/**
 * An abandon work's thread exited owning the mutex (it never releases it). Terminal.
 * The mutex stays abandoned until the next acquirer, who sees `abandoned: true`.
 */
export interface AbandonedPhase extends PhaseBase {
  readonly type: 'abandoned';
}

/** The acquire wait timed out; the callback returned owning nothing. Terminal. */
export interface TimedOutPhase extends PhaseBase {
  readonly type: 'timed_out';
}

/** Cancelled before the mutex was acquired (queued, or the wait was aborted). Terminal. */
export interface CancelledPhase extends PhaseBase {
  readonly type: 'cancelled';
}

/** The callback could not run or its thread died. Terminal; owns nothing afterwards. */
export interface FailedPhase extends PhaseBase {
  readonly type: 'failed';
  readonly error: EngineError;
}

export type Phase =
  | StartedPhase
  | AcquiredPhase
  | ReturnedPhase
  | ReleasedPhase
  | AbandonedPhase
  | TimedOutPhase
  | CancelledPhase
  | FailedPhase;

export type PhaseType = Phase['type'];
export type TerminalPhase = ReleasedPhase | AbandonedPhase | TimedOutPhase | CancelledPhase | FailedPhase;

export function isTerminalPhase(phase: Phase): phase is TerminalPhase {
  return phase.type === 'released' || phase.type === 'abandoned' || phase.type === 'timed_out' ||
    phase.type === 'cancelled' || phase.type === 'failed';
}

/** Live state of a mutex as the OS (or the emulated table) sees it. */
export interface MutexProbe {
  /** free: nobody owns it; held: owned (by any thread, any process); abandoned: its owner died and nobody took it since. */
  readonly state: 'free' | 'held' | 'abandoned';
  /** Recursion depth of the owner (0 when not held). */
  readonly recursion: number;
}

export interface MutexOpened {
  /** The mutex existed before this call (opened by this process earlier or by another process). */
  readonly existed: boolean;
  /**
   * The object's own name, which tells two spellings of one object apart from two
   * objects: win32 asks the kernel (NtQueryObject, e.g. `\Sessions\1\BaseNamedObjects\x`
   * for `Local\x`, `\BaseNamedObjects\x` for `Global\x`; in session 0 both are the
   * latter); emulated computes the path Windows would give in its configured session.
   * Names with the same kernel name are one mutex: one state, one fencing sequence.
   */
  readonly kernelName: string;
}

export interface SemaphoreInit {
  /** 0..maximumCount. Used only when the semaphore is created. */
  readonly initialCount: number;
  /** At least 1. Used only when the semaphore is created. */
  readonly maximumCount: number;
}

export interface SemaphoreOpened extends MutexOpened {
  /** The object's own maximum (an existing semaphore keeps its own; the init is ignored). */
  readonly maximumCount: number;
}

/** Live state of a semaphore (win32: NtQuerySemaphore), units held anywhere included. */
export interface SemaphoreProbe {
  /** Units available now. */
  readonly count: number;
  readonly maximumCount: number;
}

export interface EventInit {
  readonly manualReset: boolean;
  /** Used only when the event is created. */
  readonly initialState: boolean;
}

export type EventOpened = MutexOpened;

/** Live state of an event (win32: NtQueryEvent). */
export interface EventProbe {
  readonly signaled: boolean;
  /** The object's own type: true for a manual-reset (notification) event. */
  readonly manualReset: boolean;
}

export interface PoolLimits {
  readonly minThreads: number;
  readonly maxThreads: number;
}

export interface PoolStats extends PoolLimits {
  /** Threads the pool has now (win32: threads seen running callbacks). */
  readonly threads: number;
  /** Callbacks running now (waiting, spinning, holding). */
  readonly active: number;
  /** Works submitted whose callback has not started. */
  readonly queued: number;
  readonly submitted: number;
  /** Works that reached a terminal phase. */
  readonly completed: number;
}

export interface EngineInfo {
  readonly kind: EngineKind;
  /** Where mutex names live: the OS session/global namespaces, or this process only. */
  readonly nameScope: 'os' | 'process';
  /** What the `*Ns` timestamps count from. */
  readonly clock: string;
  /** Free-form, engine-specific facts for /v1/info (versions, DLL path...). */
  readonly details: Readonly<Record<string, string | number | boolean>>;
}

export interface EngineCloseOptions {
  /** How long to wait for running callbacks after ending holds and aborting waits. */
  readonly timeoutMs: number;
}

export type PhaseListener = (phase: Phase) => void;

/**
 * Threading contract: every method returns without waiting on a pool thread. Phases
 * are delivered on the JS event loop, asynchronously (never from inside a method
 * call), in the order they happened for one work.
 *
 * Handoff order (docs/design.md §1.4), per mutex: `acquired` phases come in acquisition
 * order (fencing-token order), and the previous holder's `returned` and terminal phase
 * (`released`, or `failed` if it died owning the mutex) come before the next holder's
 * `acquired`. The `released` stamp is clamped to no later than that `acquired` stamp
 * (see ReleasedPhase). Both engines implement this once, in src/engine/handoff-order.ts.
 * An `acquired` before the previous holder's `returned` breaks mutual exclusion: the
 * service reports it as an invariant violation. Each submitted work gets exactly one
 * terminal phase.
 */
export interface Engine {
  readonly info: EngineInfo;

  /** Load native parts, create the pool. Rejects with EngineError('engine_unavailable'). */
  start(): Promise<void>;

  /** The engine clock now. */
  nowNs(): Ns;

  /** The single consumer of phases (the work service). */
  onPhase(listener: PhaseListener): void;

  /**
   * Why the engine stopped taking work after a fatal internal failure (it failed every
   * unfinished work then), or undefined while it is sound. Readiness reports it.
   */
  fault(): EngineError | undefined;

  /**
   * Open or create the named mutex and keep a handle. Throws EngineError (name_conflict,
   * name_invalid, access_denied, privilege_required, os_error).
   */
  openMutex(name: string): MutexOpened;

  /**
   * Close this engine's handle. Throws EngineError('mutex_in_use') while a work on it has
   * not ended (win32); a callback that ended but has not fully returned keeps the OS
   * handle open until it has.
   */
  closeMutex(name: string): void;

  /** Live OS state of an open mutex. */
  probeMutex(name: string): MutexProbe;

  /**
   * Open or create a named semaphore (least access: SYNCHRONIZE | SEMAPHORE_MODIFY_STATE
   * | SEMAPHORE_QUERY_STATE). Same errors as openMutex; initialCount > maximumCount or
   * maximumCount < 1 throws RangeError. A name that is another kind of object throws
   * name_conflict.
   */
  openSemaphore(name: string, init: SemaphoreInit): SemaphoreOpened;

  /** Close this engine's handle. Throws EngineError('object_in_use') while a work on it has not ended. */
  closeSemaphore(name: string): void;

  /** Live OS state of an open semaphore. Throws EngineError('object_not_open'). */
  probeSemaphore(name: string): SemaphoreProbe;

  /** Open or create a named event (SYNCHRONIZE | EVENT_MODIFY_STATE | EVENT_QUERY_STATE). */
  openEvent(name: string, init: EventInit): EventOpened;

  /** Close this engine's handle. Throws EngineError('object_in_use') while a work that sets it has not ended. */
  closeEvent(name: string): void;

  /** Live OS state of an open event. Throws EngineError('object_not_open'). */
  probeEvent(name: string): EventProbe;

  /** SetEvent / ResetEvent on an open event, now (they never block). */
  setEvent(name: string): void;
  resetEvent(name: string): void;

  /**
   * Queue a callback. The objects it names must be open. Throws EngineError on shutdown; a time
   * outside 0..MAX_WORK_TIME_MS (src/engine/work-times.ts) or a reused id throws a
   * RangeError / Error before anything is recorded.
   */
  submit(spec: WorkSpec): void;

  /**
   * End the spin/hold of a running work now. Before it acquires, the signal is kept and
   * ends the hold at once. An unknown or already terminal work id is ignored.
   */
  signal(workId: string): void;

  /**
   * Cancel: not started → it never acquires and reports `cancelled`; waiting → the
   * wait is aborted, `cancelled`; owning → like signal (it returns and releases).
   * Racing a release, the cancel wins whenever it was made before the release: a
   * waiter cancelled while the mutex is still held never acquires it, even if the
   * holder releases before the waiter's thread runs again. A release that came first
   * may already have made the waiter the owner; the cancel then acts as a signal.
   * An unknown or already terminal work id is ignored.
   */
  cancel(workId: string): void;

  /**
   * Abandonment on cue (see AbandonSpec): runs on a dedicated thread, not in the pool.
   * The mutex must be open. signal() is ignored; cancel() aborts the wait.
   */
  abandon(spec: AbandonSpec): void;

  poolStats(): PoolStats;

  /** Apply new limits live. Throws EngineError('pool_limits_invalid'). */
  setPoolLimits(limits: PoolLimits): void;

  /**
   * Shut down: cancel everything not started, abort waits, end holds, wait up to
   * timeoutMs for callbacks, deliver every remaining terminal phase, close all handles.
   */
  close(options: EngineCloseOptions): Promise<void>;
}

export interface EngineOptions {
  readonly pool: PoolLimits;
  /**
   * Checked mode: verify the rules that real Windows enforces by killing the process
   * and Wine does not (win32: the shim checks ownership with NtQueryMutant, one
   * callback-return action of each kind, an open handle); a violation fails the work
   * with `rule_violation`. On in every test run. The emulated engine has no such rules.
   */
  readonly checked?: boolean;
}
