/**
 * The win32 engine: a private Windows thread pool whose callbacks are the native shim
 * (src/native/shim.c), driven through koffi.
 *
 * - Each work is a TP_WORK whose callback (tpm_work_callback) waits for the named mutex
 *   on its pool thread, registers ReleaseMutexWhenCallbackReturns, spins/holds and
 *   returns; the pool releases the mutex. A TP_WAIT on the work's `done` event
 *   (SetEventWhenCallbackReturns) reports "released" from another pool callback.
 * - Steps arrive as packets on one I/O completion port, drained by a single koffi
 *   `.async` GetQueuedCompletionStatusEx loop: it blocks a libuv worker thread, never
 *   the event loop. No koffi callback is registered anywhere, so no JavaScript ever
 *   runs on a pool thread, and no pool thread ever waits for JavaScript.
 * - Per-work native records (koffi.alloc) are recycled with their events, TP_WORK and
 *   TP_WAIT once the wait callback's packet (RELEASED or RETIRED) has arrived: from then
 *   on no pool thread touches them.
 * - At most maxThreads works are in the pool at once; the rest wait in the engine's own
 *   FIFO. Windows (and Wine) keep threads above a lowered maximum until they idle out
 *   and add threads only on submission, so this admission is what makes PATCH /v1/pool
 *   take effect at once, both ways.
 * - koffi and the DLL are loaded in start(), so constructing this class never fails for
 *   a missing native part (start() rejects with engine_unavailable instead).
 */
import { EngineError } from '../errors.js';
import { checkMutexName } from '../emulated/mutex-name.js';
import { checkPoolLimits } from '../emulated/pool-limits.js';
import type {
  Engine, EngineCloseOptions, EngineInfo, EngineOptions, MutexOpened, MutexProbe, Ns, Phase,
  PhaseListener, PoolLimits, PoolStats, TerminalPhase, WorkSpec,
} from '../types.js';
import type * as Kernel32 from './kernel32.js';
import type * as Ntdll from './ntdll.js';
import type * as ShimModule from './shim.js';
import type { HANDLE, PVOID } from './kernel32.js';
import type { Shim, TpmJob } from './shim.js';
import {
  ERROR_ALREADY_EXISTS, ERROR_BAD_PATHNAME, ERROR_FILENAME_EXCED_RANGE, ERROR_INVALID_HANDLE,
  ERROR_INVALID_NAME, ERROR_PATH_NOT_FOUND, Win32Error,
} from './win32-error.js';

type KoffiModule = typeof import('koffi').default;

interface Native {
  readonly koffi: KoffiModule;
  readonly k32: typeof Kernel32;
  readonly nt: typeof Ntdll;
  readonly shimTypes: typeof ShimModule;
  readonly shim: Shim;
}

/** Packets one GetQueuedCompletionStatusEx call may remove. */
const DRAIN_BATCH = 64;
/** Completion key of the packet that ends the drain loop (never a slot index). */
const STOP_KEY = 0xffffffffn;
/** Largest DWORD timeout that is not INFINITE. */
const MAX_DWORD_MS = 0xfffffffe;

interface OpenMutex {
  readonly handle: HANDLE;
  /** tpm_mutex_t: the handle and the native fencing counter. */
  readonly record: PVOID;
  /** Tokens whose `acquired` arrived and whose `released` has not been processed. */
  readonly unreleased: Set<number>;
  /** `acquired` time of token t, kept until the release of token t - 1 consumes it (see onReleased). */
  readonly acquiredNs: Map<number, Ns>;
  /**
   * `released` phases held back until the next acquisition's packet arrives, by that
   * next token. Several can wait at once: wait callbacks run on any pool thread, so
   * the releases of tokens t and t + 1 can both be processed before acquired(t + 1).
   */
  readonly deferred: Map<number, { readonly job: Job; readonly atNs: Ns }>;
}

/** pending: in the engine's FIFO; queued: submitted to the pool, callback not started. */
type Stage = 'pending' | 'queued' | 'started' | 'acquired' | 'returned' | 'ended';

/** The JS side of one work. */
interface Job {
  readonly spec: WorkSpec;
  stage: Stage;
  /** Its native record, once submitted to the pool. */
  slot: Slot | undefined;
  /** A signal that came while pending, passed on at submission. */
  signaledEarly: boolean;
  /** Its fencing token once acquired (0 before). */
  token: number;
}

/** A recyclable native record with its events and thread-pool objects. */
interface Slot {
  readonly key: number;
  readonly record: PVOID;
  readonly signal: HANDLE;
  readonly done: HANDLE;
  readonly work: HANDLE;
  readonly wait: HANDLE;
  /** Set from submit until the wait callback's packet hands the record back. */
  job: Job | undefined;
}

export class Win32Engine implements Engine {
  private native: Native | undefined;
  private limits: PoolLimits;
  private listener: PhaseListener | undefined;
  private port: HANDLE | undefined;
  private pool: HANDLE | undefined;
  private group: HANDLE | undefined;
  private environment: PVOID | undefined;
  private entries: PVOID | undefined;
  private qpcFrequency = 1n;
  private readonly mutexes = new Map<string, OpenMutex>();
  /** Last fencing token of closed mutexes, so a reopened name keeps counting up. */
  private readonly fencingOfClosed = new Map<string, number>();
  private readonly slots: Slot[] = [];
  private readonly freeSlots: Slot[] = [];
  /** Works without a terminal phase, by id, in submission order. */
  private readonly works = new Map<string, Job>();
  /** Works waiting for room in the pool (stage pending), oldest first. */
  private readonly pending = new Map<string, Job>();
  /** Works submitted to the pool whose wait callback has not handed the record back. */
  private inPool = 0;
  private readonly threadIds = new Set<number>();
  private submitted = 0;
  private completed = 0;
  private drainLoop: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: EngineOptions) {
    this.limits = checkPoolLimits(options.pool);
  }

  get info(): EngineInfo {
    const details: Record<string, string | number | boolean> = {
      pool: 'private Windows thread pool (CreateThreadpool)',
      callbacks: 'native shim (tpmutex-shim.dll); no JavaScript on pool threads',
      notifications: 'I/O completion port drained by GetQueuedCompletionStatusEx on a libuv worker',
      node: process.version,
    };
    if (this.native !== undefined) {
      details['shim'] = this.native.shim.path;
      details['koffi'] = this.native.koffi.version;
      details['qpcFrequency'] = Number(this.qpcFrequency);
    }
    return {
      kind: 'win32',
      nameScope: 'os',
      clock: 'QueryPerformanceCounter (ns, monotonic)',
      details,
    };
  }

  async start(): Promise<void> {
    if (this.native !== undefined) return;
    if (this.closing !== undefined) throw new EngineError('shutting_down', 'the win32 engine is closed');
    let native: Native;
    try {
      const [koffiModule, k32, nt, shimTypes] = await Promise.all([
        import('koffi'), import('./kernel32.js'), import('./ntdll.js'), import('./shim.js'),
      ]);
      native = { koffi: koffiModule.default, k32, nt, shimTypes, shim: shimTypes.loadShim() };
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw new EngineError('engine_unavailable', `win32 engine: cannot load koffi or kernel32: ${(err as Error).message}`, { cause: err });
    }
    const { koffi, k32 } = native;
    try {
      this.qpcFrequency = k32.QueryPerformanceFrequency();
      // Concurrency 0 (one per CPU), not 1: Windows counts the libuv worker that last
      // read the port as active while it runs other pool work, and with 1 that would
      // hold back the next read, made from another worker. There is one reader anyway.
      this.port = k32.CreateIoCompletionPort(k32.INVALID_HANDLE_VALUE, null, 0n, 0);
      this.pool = k32.CreateThreadpool();
      this.applyLimits(k32, this.pool, this.limits, this.limits);
      this.group = k32.CreateThreadpoolCleanupGroup();
      this.environment = koffi.alloc(k32.cTP_CALLBACK_ENVIRON_V3, 1) as PVOID;
      koffi.encode(this.environment, k32.cTP_CALLBACK_ENVIRON_V3, {
        Version: 3, Pool: this.pool, CleanupGroup: this.group, CleanupGroupCancelCallback: null,
        RaceDll: null, ActivationContext: null, FinalizationCallback: null,
        Flags: 0, CallbackPriority: 1 /* TP_CALLBACK_PRIORITY_NORMAL */, Size: koffi.sizeof(k32.cTP_CALLBACK_ENVIRON_V3),
      });
      this.entries = koffi.alloc(k32.cOVERLAPPED_ENTRY, DRAIN_BATCH) as PVOID;
    } catch (err) {
      this.releaseNative(native);
      throw new EngineError('engine_unavailable', `win32 engine: ${(err as Error).message}`, { cause: err });
    }
    this.native = native;
    this.drainLoop = this.drain(native);
  }

  nowNs(): Ns {
    const native = this.native;
    if (native === undefined) return process.hrtime.bigint(); // before start(): nothing to compare with
    return this.toNs(native.k32.QueryPerformanceCounter());
  }

  onPhase(listener: PhaseListener): void {
    this.listener = listener;
  }

  openMutex(name: string): MutexOpened {
    const native = this.assertRunning();
    checkMutexName(name);
    if (this.mutexes.has(name)) return { existed: true };
    let opened: { handle: HANDLE; lastError: number };
    try {
      opened = native.k32.CreateMutexExW(name, 0, native.k32.MUTEX_ALL_ACCESS);
    } catch (err) {
      throw mutexError(err, name);
    }
    const record = native.koffi.alloc(native.shimTypes.cTpmMutex, 1) as PVOID;
    native.koffi.encode(record, native.shimTypes.cTpmMutex, { handle: opened.handle, fencing: this.fencingOfClosed.get(name) ?? 0 });
    this.mutexes.set(name, { handle: opened.handle, record, unreleased: new Set(), acquiredNs: new Map(), deferred: new Map() });
    return { existed: opened.lastError === ERROR_ALREADY_EXISTS };
  }

  closeMutex(name: string): void {
    const mutex = this.mutexOf(name);
    const native = this.native!;
    this.fencingOfClosed.set(name, Number(native.koffi.decode(mutex.record, native.shimTypes.cTpmMutex).fencing));
    this.mutexes.delete(name);
    native.koffi.free(mutex.record);
    try {
      native.k32.CloseHandle(mutex.handle);
    } catch (err) {
      throw toEngineError(err);
    }
  }

  probeMutex(name: string): MutexProbe {
    const mutex = this.mutexOf(name);
    let info: Ntdll.MutantBasicInformationValue;
    try {
      info = this.native!.nt.NtQueryMutant(mutex.handle);
    } catch (err) {
      throw toEngineError(err);
    }
    if (info.AbandonedState && info.CurrentCount === 1) return { state: 'abandoned', recursion: 0 };
    if (info.CurrentCount <= 0) return { state: 'held', recursion: 1 - info.CurrentCount };
    return { state: 'free', recursion: 0 };
  }

  submit(spec: WorkSpec): void {
    const native = this.assertRunning();
    const mutex = this.mutexOf(spec.mutex);
    if (this.works.has(spec.workId)) throw new Error(`work id ${spec.workId} is already submitted and not terminal`);
    for (const field of ['acquireTimeoutMs', 'spinMs', 'holdMs'] as const) {
      const value = spec[field];
      if (!Number.isInteger(value) || value < 0 || value > MAX_DWORD_MS) throw new RangeError(`${field} must be an integer from 0 to ${MAX_DWORD_MS} (got ${value})`);
    }
    const job: Job = { spec, stage: 'pending', slot: undefined, signaledEarly: false, token: 0 };
    if (this.inPool < this.limits.maxThreads && this.pending.size === 0) {
      this.launch(native, job, mutex); // throws: nothing was recorded
    } else {
      this.pending.set(spec.workId, job);
    }
    this.works.set(spec.workId, job);
    this.submitted++;
  }

  /** Submits a work to the pool: a (recycled) record, its events armed, then SubmitThreadpoolWork. */
  private launch(native: Native, job: Job, mutex: OpenMutex): void {
    let slot: Slot;
    try {
      slot = this.freeSlots.pop() ?? this.createSlot(native);
    } catch (err) {
      throw toEngineError(err);
    }
    try {
      const { spec } = job;
      native.koffi.encode(slot.record, native.shimTypes.cTpmJob, {
        port: this.port!, key: slot.key, mutex: mutex.record, signal: slot.signal, done: slot.done,
        acquire_timeout_ms: spec.acquireTimeoutMs, spin_ms: spec.spinMs, hold_ms: spec.holdMs,
        may_run_long: spec.mayRunLong ? 1 : 0,
        state: 0, signal_requested: 0, cancel_requested: 0, thread_id: 0, may_run_long_result: -1,
        wait_result: 0, owned: 0, abandoned: 0, signaled: 0, error: 0, error_fn: 0, post_error: 0,
        fencing_token: 0, started_qpc: 0, acquired_qpc: 0, returned_qpc: 0, ended_qpc: 0,
      } satisfies Record<keyof TpmJob, unknown>);
      // A recycled slot's events may still be set from its last work.
      native.k32.ResetEvent(slot.signal);
      native.k32.ResetEvent(slot.done);
      native.k32.SetThreadpoolWait(slot.wait, slot.done);
      if (job.signaledEarly) native.shim.tpm_job_signal(slot.record);
    } catch (err) {
      this.freeSlots.push(slot);
      throw toEngineError(err);
    }
    slot.job = job;
    job.slot = slot;
    job.stage = 'queued';
    this.inPool++;
    native.k32.SubmitThreadpoolWork(slot.work);
  }

  /** Moves pending works into the pool while it has room. */
  private pump(): void {
    const native = this.native;
    if (native === undefined || this.closing !== undefined) return;
    for (const job of this.pending.values()) {
      if (this.inPool >= this.limits.maxThreads) return;
      this.pending.delete(job.spec.workId);
      try {
        this.launch(native, job, this.mutexOf(job.spec.mutex));
      } catch (err) {
        this.finish(job, { type: 'failed', workId: job.spec.workId, atNs: this.nowNs(), error: toEngineError(err) });
      }
    }
  }

  /** Unknown or already terminal work ids are ignored (the service validates ids). */
  signal(workId: string): void {
    const job = this.works.get(workId);
    if (job === undefined) return;
    if (job.slot === undefined) { job.signaledEarly = true; return; }
    try {
      this.native!.shim.tpm_job_signal(job.slot.record);
    } catch (err) {
      throw toEngineError(err);
    }
  }

  /** Unknown or already terminal work ids are ignored (the service validates ids). */
  cancel(workId: string): void {
    const job = this.works.get(workId);
    if (job === undefined) return;
    if (job.slot === undefined) {
      this.pending.delete(workId);
      const atNs = this.nowNs();
      this.finish(job, { type: 'cancelled', workId, atNs }, 'soon');
      return;
    }
    try {
      // Not started yet: the shim posts its CANCELLED packet at once. Waiting: the wait
      // is aborted. Owning: the spin/hold ends like a signal.
      this.native!.shim.tpm_job_cancel(job.slot.record);
    } catch (err) {
      throw toEngineError(err);
    }
  }

  poolStats(): PoolStats {
    let queued = 0;
    let active = 0;
    for (const job of this.works.values()) {
      const stage = job.stage;
      if (stage === 'pending' || stage === 'queued') queued++;
      else if (stage === 'started' || stage === 'acquired') active++;
    }
    return {
      ...this.limits,
      // The pool keeps minThreads threads and never exceeds maxThreads; within that,
      // count the distinct threads seen running callbacks.
      threads: Math.min(this.limits.maxThreads, Math.max(this.limits.minThreads, this.threadIds.size)),
      active,
      queued,
      submitted: this.submitted,
      completed: this.completed,
    };
  }

  setPoolLimits(limits: PoolLimits): void {
    const next = checkPoolLimits(limits);
    const native = this.native;
    if (native !== undefined && this.pool !== undefined && this.closing === undefined) {
      try {
        this.applyLimits(native.k32, this.pool, this.limits, next);
      } catch (err) {
        throw toEngineError(err);
      }
    }
    this.limits = next;
    this.pump(); // a higher maximum makes room for pending works
  }

  close(options: EngineCloseOptions): Promise<void> {
    this.closing ??= this.shutdown(options.timeoutMs);
    return this.closing;
  }

  // ---------------------------------------------------------------------------------

  private assertRunning(): Native {
    if (this.closing !== undefined) throw new EngineError('shutting_down', 'the win32 engine is closing');
    if (this.native === undefined) throw new EngineError('engine_unavailable', 'the win32 engine is not started');
    return this.native;
  }

  private mutexOf(name: string): OpenMutex {
    const mutex = this.mutexes.get(name);
    if (mutex === undefined) throw new EngineError('mutex_not_open', `mutex ${name} is not open in this engine`);
    return mutex;
  }

  private toNs(qpc: bigint): Ns {
    return (qpc * 1_000_000_000n) / this.qpcFrequency;
  }

  /** Sets both limits in an order that never has min above max in between. */
  private applyLimits(k32: typeof Kernel32, pool: HANDLE, from: PoolLimits, to: PoolLimits): void {
    if (to.minThreads > from.maxThreads) {
      k32.SetThreadpoolThreadMaximum(pool, to.maxThreads);
      k32.SetThreadpoolThreadMinimum(pool, to.minThreads);
    } else {
      k32.SetThreadpoolThreadMinimum(pool, to.minThreads);
      k32.SetThreadpoolThreadMaximum(pool, to.maxThreads);
    }
  }

  /** A new record with its events and thread-pool objects; undone on failure. */
  private createSlot(native: Native): Slot {
    const { koffi, k32, shim, shimTypes } = native;
    const record = koffi.alloc(shimTypes.cTpmJob, 1) as PVOID;
    const made: HANDLE[] = [];
    try {
      const signal = k32.CreateEventExW(null, k32.CREATE_EVENT_MANUAL_RESET, k32.EVENT_ALL_ACCESS);
      made.push(signal);
      const done = k32.CreateEventExW(null, 0, k32.EVENT_ALL_ACCESS); // auto-reset: consumed by the wait
      made.push(done);
      // Members of the cleanup group: CloseThreadpoolCleanupGroupMembers closes them.
      const wait = k32.CreateThreadpoolWait(shim.waitCallback, record, this.environment!);
      const work = k32.CreateThreadpoolWork(shim.workCallback, record, this.environment!);
      const slot: Slot = { key: this.slots.length, record, signal, done, work, wait, job: undefined };
      this.slots.push(slot);
      return slot;
    } catch (err) {
      for (const h of made) k32.CloseHandle(h);
      koffi.free(record);
      throw err;
    }
  }

  /** The one consumer of the completion port, until the STOP packet. */
  private async drain(native: Native): Promise<void> {
    const { koffi, k32 } = native;
    for (;;) {
      let count: number;
      try {
        count = await k32.GetQueuedCompletionStatusEx(this.port!, this.entries!, DRAIN_BATCH, k32.INFINITE);
      } catch (err) {
        this.failAll(toEngineError(err));
        return;
      }
      const entries = koffi.decode(this.entries!, k32.cOVERLAPPED_ENTRY, count) as {
        lpCompletionKey: number | bigint; lpOverlapped: number | bigint; dwNumberOfBytesTransferred: number;
      }[];
      for (const entry of entries) {
        const key = BigInt(entry.lpCompletionKey);
        if (key === STOP_KEY) return;
        this.onPacket(native, Number(key), entry.dwNumberOfBytesTransferred, BigInt(entry.lpOverlapped));
      }
    }
  }

  private onPacket(native: Native, key: number, kind: number, qpc: bigint): void {
    const s = native.shimTypes;
    const slot = this.slots[key];
    const job = slot?.job;
    if (slot === undefined || job === undefined) return;
    const workId = job.spec.workId;
    const atNs = this.toNs(qpc);

    if (kind === s.TPM_PACKET_RELEASED || kind === s.TPM_PACKET_RETIRED) {
      // The wait callback's packet: no pool thread touches the record any more.
      slot.job = undefined;
      job.slot = undefined;
      this.freeSlots.push(slot);
      this.inPool--;
      if (kind === s.TPM_PACKET_RELEASED && job.stage !== 'ended') this.onReleased(native, job, atNs);
      this.pump();
      return;
    }
    if (job.stage === 'ended') return; // nothing follows a terminal phase
    const r = native.koffi.decode(slot.record, s.cTpmJob) as TpmJob;
    switch (kind) {
      case s.TPM_PACKET_STARTED:
        job.stage = 'started';
        // Thread ids are reused and pool threads come and go: forget old ones now and then.
        if (this.threadIds.size >= 4 * this.limits.maxThreads) this.threadIds.clear();
        this.threadIds.add(r.thread_id);
        this.deliver({ type: 'started', workId, atNs, threadId: r.thread_id, mayRunLong: r.may_run_long_result < 0 ? null : r.may_run_long_result === 1 });
        return;
      case s.TPM_PACKET_ACQUIRED: {
        job.stage = 'acquired';
        job.token = Number(r.fencing_token);
        const mutex = this.mutexes.get(job.spec.mutex);
        if (mutex !== undefined) {
          mutex.unreleased.add(job.token);
          const held = mutex.deferred.get(job.token);
          if (held !== undefined) {
            mutex.deferred.delete(job.token);
            this.finish(held.job, { type: 'released', workId: held.job.spec.workId, atNs: held.atNs < atNs ? held.atNs : atNs });
          } else if (mutex.unreleased.has(job.token - 1)) {
            mutex.acquiredNs.set(job.token, atNs);
          }
        }
        this.deliver({ type: 'acquired', workId, atNs, threadId: r.thread_id, abandoned: r.abandoned !== 0, fencingToken: job.token });
        return;
      }
      case s.TPM_PACKET_RETURNED:
        job.stage = 'returned';
        this.deliver({ type: 'returned', workId, atNs, signaled: r.signaled !== 0 });
        return;
      case s.TPM_PACKET_TIMED_OUT:
        this.finish(job, { type: 'timed_out', workId, atNs });
        return;
      case s.TPM_PACKET_CANCELLED:
        this.finish(job, { type: 'cancelled', workId, atNs });
        return;
      case s.TPM_PACKET_FAILED: {
        const fn = s.TPM_FN_NAMES[r.error_fn] ?? 'tpmutex-shim';
        this.finish(job, { type: 'failed', workId, atNs, error: toEngineError(new Win32Error(r.error, fn)) });
        return;
      }
      default:
        return;
    }
  }

  /**
   * Delivers `released` for a work that owned its mutex, with a stamp that is never
   * earlier than the real release and never later than the next acquisition.
   *
   * The shim stamps `released` in the wait callback, after the pool released the mutex;
   * the next owner stamps `acquired` after its wait returned — possibly before that
   * wait callback ran, and its packet may arrive after ours. The next acquisition
   * (token + 1) is also an upper bound of the release, so the phase carries the smaller
   * of the two stamps. If the native counter says token + 1 was issued but its packet
   * has not arrived, `released` waits for it (it is posted right after); if the counter
   * still says token, any later owner stamps `acquired` after this moment, which is
   * after the wait-callback stamp.
   */
  private onReleased(native: Native, job: Job, atNs: Ns): void {
    const workId = job.spec.workId;
    const mutex = this.mutexes.get(job.spec.mutex);
    if (mutex === undefined || job.token === 0) { this.finish(job, { type: 'released', workId, atNs }); return; }
    mutex.unreleased.delete(job.token);
    const nextToken = job.token + 1;
    const next = mutex.acquiredNs.get(nextToken);
    if (next !== undefined) {
      mutex.acquiredNs.delete(nextToken);
      this.finish(job, { type: 'released', workId, atNs: next < atNs ? next : atNs });
      return;
    }
    const issued = Number(native.koffi.decode(mutex.record, native.koffi.offsetof(native.shimTypes.cTpmMutex, 'fencing'), 'int64_t'));
    if (issued >= nextToken) mutex.deferred.set(nextToken, { job, atNs });
    else this.finish(job, { type: 'released', workId, atNs });
  }

  /** Delivers every held-back `released` as it is (close(): no packet will follow). */
  private flushDeferred(): void {
    for (const mutex of this.mutexes.values()) {
      for (const held of mutex.deferred.values()) this.finish(held.job, { type: 'released', workId: held.job.spec.workId, atNs: held.atNs });
      mutex.deferred.clear();
    }
  }

  /**
   * The one way a work ends: bookkeeping first, then its terminal phase — now (from
   * the drain loop) or soon (from inside a method call, which must not deliver).
   */
  private finish(job: Job, phase: TerminalPhase, when: 'now' | 'soon' = 'now'): void {
    if (job.stage === 'ended') return;
    job.stage = 'ended';
    if (this.works.get(job.spec.workId) === job) this.works.delete(job.spec.workId);
    this.completed++;
    if (when === 'now') this.deliver(phase);
    else setImmediate(() => this.deliver(phase));
  }

  private deliver(phase: Phase): void {
    const listener = this.listener;
    if (listener === undefined) return;
    try {
      listener(phase);
    } catch (err) {
      // A listener bug must not stop the drain loop; surface it like an emitter would.
      queueMicrotask(() => { throw err; });
    }
  }

  private failAll(error: EngineError): void {
    const atNs = this.nowNs();
    this.pending.clear();
    for (const job of [...this.works.values()]) this.finish(job, { type: 'failed', workId: job.spec.workId, atNs, error });
  }

  /**
   * Cancel what has not started, abort waits, end holds (tpm_job_cancel does all three),
   * then wait — on a libuv worker, bounded by timeoutMs — for the callbacks through the
   * cleanup group, stop the drain loop behind the last packet, deliver the terminal
   * phases the port could not carry, and close everything.
   */
  private async shutdown(timeoutMs: number): Promise<void> {
    const native = this.native;
    if (native === undefined) return;
    const { k32, shim } = native;
    await Promise.resolve(); // close() itself must not deliver phases
    // Pending works never reach the pool. Then queued ones, then waiting ones, and
    // holders last: ending a hold frees the mutex and the thread, which would let a
    // waiter acquire, or a queued work start, before its own cancel came.
    const cancelledAt = this.nowNs();
    for (const job of this.pending.values()) this.finish(job, { type: 'cancelled', workId: job.spec.workId, atNs: cancelledAt });
    this.pending.clear();
    const inPool = [...this.works.values()];
    const rank = (job: Job): number => (job.stage === 'queued' ? 0 : job.stage === 'started' ? 1 : 2);
    for (const job of inPool.sort((a, b) => rank(a) - rank(b))) {
      if (job.slot === undefined) continue;
      try { shim.tpm_job_cancel(job.slot.record); } catch { /* its callback still ends on close */ }
    }
    let timer: NodeJS.Timeout | undefined;
    const returned = await Promise.race([
      k32.CloseThreadpoolCleanupGroupMembers(this.group!, true).then(() => true),
      new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); }),
    ]);
    clearTimeout(timer);

    // Every packet of a returned callback was posted before it returned, so STOP is last.
    k32.PostQueuedCompletionStatus(this.port!, 0, STOP_KEY, 0n);
    await this.drainLoop;
    this.flushDeferred();

    const atNs = this.nowNs();
    for (const job of [...this.works.values()]) {
      const workId = job.spec.workId;
      if (!returned) {
        this.finish(job, { type: 'failed', workId, atNs, error: new EngineError('shutting_down', `work ${workId} did not return within ${timeoutMs} ms of close()`) });
      } else if (job.stage === 'acquired' || job.stage === 'returned') {
        // Its callback returned (the cleanup group waited for it), so the pool released
        // the mutex; only the wait callback's packet was cancelled with the group.
        this.finish(job, { type: 'released', workId, atNs });
      } else {
        // Never started (the group cancelled the pending callback) or ended its wait.
        this.finish(job, { type: 'cancelled', workId, atNs });
      }
    }
    if (!returned) return; // callbacks still use the records, the port and the mutexes: leak them
    this.releaseNative(native);
  }

  private releaseNative(native: Native): void {
    const { koffi, k32 } = native;
    const quietly = (fn: () => void): void => { try { fn(); } catch { /* closing anyway */ } };
    if (this.group !== undefined) quietly(() => k32.CloseThreadpoolCleanupGroup(this.group!));
    if (this.pool !== undefined) quietly(() => k32.CloseThreadpool(this.pool!));
    for (const slot of this.slots) {
      quietly(() => k32.CloseHandle(slot.signal));
      quietly(() => k32.CloseHandle(slot.done));
      koffi.free(slot.record);
    }
    this.slots.length = 0;
    this.freeSlots.length = 0;
    for (const mutex of this.mutexes.values()) {
      quietly(() => k32.CloseHandle(mutex.handle));
      koffi.free(mutex.record);
    }
    this.mutexes.clear();
    if (this.port !== undefined) quietly(() => k32.CloseHandle(this.port!));
    if (this.environment !== undefined) koffi.free(this.environment);
    if (this.entries !== undefined) koffi.free(this.entries);
    this.group = this.pool = this.port = this.environment = this.entries = undefined;
  }
}

/** Win32Error → EngineError with the stable code; anything else → os_error. */
function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  if (err instanceof Win32Error) return new EngineError('os_error', err.message, { osCode: err.code, fn: err.fn, cause: err });
  return new EngineError('os_error', String((err as Error)?.message ?? err), { cause: err });
}

/** CreateMutexExW failures: the name is another object's, or the OS rejects it. */
function mutexError(err: unknown, name: string): EngineError {
  if (err instanceof Win32Error) {
    if (err.code === ERROR_INVALID_HANDLE) {
      return new EngineError('name_conflict', `${name} is the name of another kind of object (event, semaphore, section...)`, { osCode: err.code, fn: err.fn, cause: err });
    }
    if ([ERROR_PATH_NOT_FOUND, ERROR_INVALID_NAME, ERROR_BAD_PATHNAME, ERROR_FILENAME_EXCED_RANGE].includes(err.code)) {
      return new EngineError('name_invalid', `the OS rejects the mutex name ${name} (${err.message})`, { osCode: err.code, fn: err.fn, cause: err });
    }
  }
  return toEngineError(err);
}
