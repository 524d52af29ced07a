/**
 * The win32 engine: a private Windows thread pool whose callbacks are the native shim
 * (src/native/shim.c), driven through koffi (src/engine/win32/native.ts).
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
 *   TP_WAIT once the wait callback's packet (RELEASED or RETIRED, the "handback") has
 *   arrived: from then on no pool thread touches them.
 * - Generations: a packet's completion key is the record's slot index plus the
 *   generation of the launch that posted it. A packet can arrive after its record was
 *   handed back and launched again: tpm_job_cancel posts CANCELLED after winning the
 *   queued→cancelled exchange, and in between the callback can return and the wait
 *   callback post RETIRED. A packet whose generation is not the slot's current one is
 *   dropped; a handback for a work that has not ended ends it from the record.
 * - A mutex record (handle + fencing counter) is referenced by every record launched
 *   with it. closeMutex refuses while a work on it has not ended, and closes the
 *   handle only after the last handback: the pool releases the mutex after the
 *   callback returned, and on Windows releasing a closed handle kills the process.
 * - A failure of the drain itself is fatal: every work fails, the engine takes nothing
 *   new (fault() says why, /readyz shows it), and no record is freed until the cleanup
 *   group has waited for every callback.
 * - At most maxThreads works are in the pool at once; the rest wait in the engine's own
 *   FIFO. Windows (and Wine) keep threads above a lowered maximum until they idle out
 *   and add threads only on submission, so this admission is what makes PATCH /v1/pool
 *   take effect at once, both ways.
 * - Checked mode (options.checked): every record is launched with TPM_CHECKED, and the
 *   shim verifies the rules real Windows enforces by killing the process (see shim.c);
 *   a refusal arrives as a failed work whose error (rule_violation) names the rule.
 * - koffi and the DLL are loaded in start(), so constructing this class never fails for
 *   a missing native part (start() rejects with engine_unavailable instead). The
 *   native layer is one interface (Win32Native); tests pass a deterministic fake.
 */
import { EngineError } from '../errors.js';
import { checkPoolLimits } from '../pool-limits.js';
import { checkMutexName } from '../mutex-name.js';
import type {
  Engine, EngineCloseOptions, EngineInfo, EngineOptions, MutexOpened, MutexProbe, Ns, Phase,
  PhaseListener, PoolLimits, PoolStats, TerminalPhase, WorkSpec,
} from '../types.js';
import { checkWorkTimes } from '../work-times.js';
import { mutexOpenError, toEngineError, type Existence } from './engine-errors.js';
import { loadNative, type HANDLE, type Packet, type PVOID, type Win32Native } from './native.js';
import {
  TPM_CHECKED, TPM_FN_CHECKED_RULE, TPM_FN_NAMES, TPM_JOB_CANCELLED, TPM_PACKET_ACQUIRED, TPM_PACKET_CANCELLED,
  TPM_PACKET_FAILED, TPM_PACKET_RELEASED, TPM_PACKET_RETIRED, TPM_PACKET_RETURNED, TPM_PACKET_STARTED,
  TPM_PACKET_TIMED_OUT, TPM_RULE_ACTION_TWICE, TPM_RULE_HANDLE_CLOSED, TPM_RULE_RELEASE_NOT_OWNED, type TpmJob,
} from './protocol.js';
import { ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_FILE_NOT_FOUND, Win32Error } from './win32-error.js';

export interface Win32EngineOptions extends EngineOptions {
  /** The native layer; the real one (koffi) unless a test passes a fake. */
  readonly loadNative?: () => Promise<Win32Native>;
  /**
   * Test entry points, honoured by the shim only in checked mode: TPM_BREAK_* bits for
   * a work make its callback break a Windows rule on purpose; TPM_TEST_* bits force a
   * race (see protocol.ts).
   */
  readonly testFlags?: (workId: string) => number;
}

/** Packets one drain step may remove. */
const DRAIN_BATCH = 64;
/** A packet's completion key: the slot index in the low bits, the launch generation above. */
const SLOT_BITS = 16n;
const SLOT_MASK = (1n << SLOT_BITS) - 1n;
/** Completion key of the packet that ends the drain loop: generations start at 1, so no launch has it. */
const STOP_KEY = 0n;

interface OpenMutex {
  readonly name: string;
  readonly handle: HANDLE;
  /** The object's name in the object manager (NtQueryObject). */
  readonly kernelName: string;
  /** The names it is open under: spellings with one kernel name share one handle and one fencing counter. */
  readonly names: Set<string>;
  /** tpm_mutex_t: the handle and the native fencing counter. */
  readonly record: PVOID;
  /** Works on it without a terminal phase (pending or in the pool): closeMutex refuses while any. */
  unended: number;
  /** Job records launched with it and not handed back: the handle stays open while any. */
  launched: number;
  /** closeMutex was called; the handle closes at the last handback. */
  closed: boolean;
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
  /** The mutex record it was submitted with (stays open while the work has not ended). */
  readonly mutex: OpenMutex;
  stage: Stage;
  /** Its native record, from launch until the handback. */
  slot: Slot | undefined;
  /** A signal that came while pending, passed on at submission. */
  signaledEarly: boolean;
  /** Its fencing token once acquired (0 before). */
  token: number;
}

/** A recyclable native record with its events and thread-pool objects. */
interface Slot {
  readonly index: number;
  readonly record: PVOID;
  readonly signal: HANDLE;
  readonly done: HANDLE;
  readonly work: HANDLE;
  readonly wait: HANDLE;
  /** The completion key of the current launch (0n while free). */
  key: bigint;
  /** Set from launch until the wait callback's packet hands the record back. */
  job: Job | undefined;
}

export class Win32Engine implements Engine {
  private native: Win32Native | undefined;
  private readonly loadNative: () => Promise<Win32Native>;
  private readonly checked: boolean;
  private readonly testFlags: ((workId: string) => number) | undefined;
  /** Packets dropped because they came from an earlier launch of their record. */
  private stalePackets = 0;
  private limits: PoolLimits;
  private listener: PhaseListener | undefined;
  private port: HANDLE | undefined;
  private pool: HANDLE | undefined;
  private group: HANDLE | undefined;
  private environment: PVOID | undefined;
  private qpcFrequency = 1n;
  private readonly mutexes = new Map<string, OpenMutex>();
  /** Closed by closeMutex, handle still open until their last record is handed back. */
  private readonly closingMutexes = new Set<OpenMutex>();
  /** Last fencing token of closed mutexes by kernel name, so a reopened mutex keeps counting up. */
  private readonly fencingOfClosed = new Map<string, number>();
  private readonly slots: Slot[] = [];
  private readonly freeSlots: Slot[] = [];
  /** Launches so far: the generation of the next one is launches + 1. */
  private launches = 0n;
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
  /** Set when the drain failed: the engine takes no more work. */
  private broken: EngineError | undefined;

  constructor(options: Win32EngineOptions) {
    this.limits = checkPoolLimits(options.pool);
    this.checked = options.checked === true;
    this.testFlags = options.testFlags;
    this.loadNative = options.loadNative ?? loadNative;
  }

  get info(): EngineInfo {
    const details: Record<string, string | number | boolean> = {
      pool: 'private Windows thread pool (CreateThreadpool)',
      callbacks: 'native shim (tpmutex-shim.dll); no JavaScript on pool threads',
      notifications: 'I/O completion port drained by GetQueuedCompletionStatusEx on a libuv worker',
      checked: this.checked,
      stalePacketsDropped: this.stalePackets,
      node: process.version,
    };
    if (this.native !== undefined) {
      Object.assign(details, this.native.details);
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
    let native: Win32Native;
    try {
      native = await this.loadNative();
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw new EngineError('engine_unavailable', `win32 engine: cannot load koffi or kernel32: ${(err as Error).message}`, { cause: err });
    }
    try {
      this.qpcFrequency = native.QueryPerformanceFrequency();
      this.port = native.CreateIoCompletionPort();
      this.pool = native.CreateThreadpool();
      this.applyLimits(native, this.pool, this.limits, this.limits);
      this.group = native.CreateThreadpoolCleanupGroup();
      this.environment = native.createEnvironment(this.pool, this.group);
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
    return this.toNs(native.QueryPerformanceCounter());
  }

  onPhase(listener: PhaseListener): void {
    this.listener = listener;
  }

  fault(): EngineError | undefined {
    return this.broken;
  }

  openMutex(name: string): MutexOpened {
    const native = this.assertRunning();
    checkMutexName(name);
    const open = this.mutexes.get(name);
    if (open !== undefined) return { existed: true, kernelName: open.kernelName };
    let opened: { handle: HANDLE; lastError: number };
    try {
      opened = native.CreateMutexExW(name);
    } catch (err) {
      throw mutexOpenError(err, name, () => this.existence(native, name));
    }
    let kernelName: string;
    try {
      kernelName = native.NtQueryObjectName(opened.handle);
    } catch (err) {
      native.CloseHandle(opened.handle);
      throw toEngineError(err);
    }
    const same = this.openObject(kernelName);
    if (same !== undefined) {
      // Another spelling of an object already open (a bare name and Local\, or in
      // session 0 Local\ and Global\): one handle and one fencing counter serve both.
      native.CloseHandle(opened.handle);
      same.names.add(name);
      this.mutexes.set(name, same);
      return { existed: true, kernelName };
    }
    let record: PVOID;
    try {
      record = native.allocMutex(opened.handle, this.fencingOfClosed.get(kernelName) ?? 0);
    } catch (err) {
      native.CloseHandle(opened.handle);
      throw toEngineError(err);
    }
    this.mutexes.set(name, {
      name, handle: opened.handle, kernelName, names: new Set([name]), record, unended: 0, launched: 0, closed: false,
      unreleased: new Set(), acquiredNs: new Map(), deferred: new Map(),
    });
    return { existed: opened.lastError === ERROR_ALREADY_EXISTS, kernelName };
  }

  private openObject(kernelName: string): OpenMutex | undefined {
    for (const open of this.mutexes.values()) if (open.kernelName === kernelName) return open;
    return undefined;
  }

  /**
   * Test hook, not part of the Engine contract: the access the handle of an open name
   * was granted (NtQueryObject), to check that the engine asks for no more than it needs.
   */
  grantedAccess(name: string): number {
    try {
      return this.native!.NtQueryObjectGrantedAccess(this.mutexOf(name).handle);
    } catch (err) {
      throw toEngineError(err);
    }
  }

  /** Whether a mutex of that name exists: a handle with no more access than SYNCHRONIZE tells. */
  private existence(native: Win32Native, name: string): Existence {
    try {
      native.CloseHandle(native.OpenMutexW(name));
      return 'exists';
    } catch (err) {
      if (err instanceof Win32Error && err.code === ERROR_FILE_NOT_FOUND) return 'missing';
      return err instanceof Win32Error && err.code === ERROR_ACCESS_DENIED ? 'exists' : 'unknown';
    }
  }

  /**
   * Refuses (mutex_in_use) while a work on it has not ended, whatever the caller
   * believes. Works that ended may still have a callback on a pool thread (their
   * record is not handed back yet): then the handle and record close at the last
   * handback, never under a pool thread.
   */
  closeMutex(name: string): void {
    const mutex = this.mutexOf(name);
    const native = this.native!;
    if (mutex.unended > 0) {
      throw new EngineError('mutex_in_use', `mutex ${name} is used by ${mutex.unended} work(s) of this engine that have not ended`);
    }
    this.mutexes.delete(name);
    mutex.names.delete(name);
    if (mutex.names.size > 0) return; // still open under another name of the same object
    this.fencingOfClosed.set(mutex.kernelName, Math.max(native.readFencing(mutex.record), this.fencingOfClosed.get(mutex.kernelName) ?? 0));
    mutex.closed = true;
    if (mutex.launched > 0) { this.closingMutexes.add(mutex); return; }
    this.closeMutexNative(native, mutex);
  }

  probeMutex(name: string): MutexProbe {
    const mutex = this.mutexOf(name);
    let info: { CurrentCount: number; OwnedByCaller: boolean; AbandonedState: boolean };
    try {
      info = this.native!.NtQueryMutant(mutex.handle);
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
    checkWorkTimes(spec);
    const job: Job = { spec, mutex, stage: 'pending', slot: undefined, signaledEarly: false, token: 0 };
    if (this.inPool < this.limits.maxThreads && this.pending.size === 0) {
      this.launch(native, job); // throws: nothing was recorded
    } else {
      this.pending.set(spec.workId, job);
    }
    this.works.set(spec.workId, job);
    mutex.unended++;
    this.submitted++;
  }

  /**
   * Submits a work to the pool: a (recycled) record under a new generation, its events
   * armed, then SubmitThreadpoolWork.
   */
  private launch(native: Win32Native, job: Job): void {
    let slot: Slot;
    try {
      slot = this.freeSlots.pop() ?? this.createSlot(native);
    } catch (err) {
      throw toEngineError(err);
    }
    const key = ((this.launches + 1n) << SLOT_BITS) | BigInt(slot.index);
    try {
      const { spec } = job;
      const checks = this.checked ? TPM_CHECKED | (this.testFlags?.(spec.workId) ?? 0) : 0;
      native.writeJob(slot.record, {
        port: this.port!, key, mutex: job.mutex.record, signal: slot.signal, done: slot.done,
        acquire_timeout_ms: spec.acquireTimeoutMs, spin_ms: spec.spinMs, hold_ms: spec.holdMs,
        may_run_long: spec.mayRunLong ? 1 : 0,
        state: 0, signal_requested: 0, cancel_requested: 0, thread_id: 0, may_run_long_result: -1,
        wait_result: 0, owned: 0, abandoned: 0, signaled: 0, error: 0, error_fn: 0, post_error: 0,
        checks, actions: 0, rule: 0, rule_status: 0, rule_count: 0, rule_owned: 0, cancel_seen: 0,
        fencing_token: 0, started_qpc: 0, acquired_qpc: 0, returned_qpc: 0, ended_qpc: 0,
      } satisfies Record<keyof TpmJob, unknown>);
      // A recycled slot's events may still be set from its last work.
      native.ResetEvent(slot.signal);
      native.ResetEvent(slot.done);
      native.SetThreadpoolWait(slot.wait, slot.done);
      if (job.signaledEarly) native.tpm_job_signal(slot.record);
    } catch (err) {
      this.freeSlots.push(slot);
      throw toEngineError(err);
    }
    this.launches++;
    slot.key = key;
    slot.job = job;
    job.slot = slot;
    job.stage = 'queued';
    job.mutex.launched++;
    this.inPool++;
    native.SubmitThreadpoolWork(slot.work);
  }

  /** Moves pending works into the pool while it has room. */
  private pump(): void {
    const native = this.native;
    if (native === undefined || this.closing !== undefined || this.broken !== undefined) return;
    for (const job of this.pending.values()) {
      if (this.inPool >= this.limits.maxThreads) return;
      this.pending.delete(job.spec.workId);
      try {
        this.launch(native, job);
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
      this.native!.tpm_job_signal(job.slot.record);
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
      this.native!.tpm_job_cancel(job.slot.record);
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
        this.applyLimits(native, this.pool, this.limits, next);
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

  private assertRunning(): Win32Native {
    if (this.closing !== undefined) throw new EngineError('shutting_down', 'the win32 engine is closing');
    if (this.broken !== undefined) throw this.broken;
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
  private applyLimits(native: Win32Native, pool: HANDLE, from: PoolLimits, to: PoolLimits): void {
    if (to.minThreads > from.maxThreads) {
      native.SetThreadpoolThreadMaximum(pool, to.maxThreads);
      native.SetThreadpoolThreadMinimum(pool, to.minThreads);
    } else {
      native.SetThreadpoolThreadMinimum(pool, to.minThreads);
      native.SetThreadpoolThreadMaximum(pool, to.maxThreads);
    }
  }

  /** A new record with its events and thread-pool objects; undone on failure. */
  private createSlot(native: Win32Native): Slot {
    if (BigInt(this.slots.length) > SLOT_MASK) throw new Error(`more than ${SLOT_MASK + 1n} job records`);
    const record = native.allocJob();
    const made: HANDLE[] = [];
    try {
      const signal = native.CreateEventExW(true);
      made.push(signal);
      const done = native.CreateEventExW(false); // auto-reset: consumed by the wait
      made.push(done);
      // Members of the cleanup group: CloseThreadpoolCleanupGroupMembers closes them.
      const wait = native.CreateThreadpoolWait(record, this.environment!);
      const work = native.CreateThreadpoolWork(record, this.environment!);
      const slot: Slot = { index: this.slots.length, record, signal, done, work, wait, key: 0n, job: undefined };
      this.slots.push(slot);
      return slot;
    } catch (err) {
      for (const h of made) native.CloseHandle(h);
      native.freeJob(record);
      throw err;
    }
  }

  /** The one consumer of the completion port, until the STOP packet. */
  private async drain(native: Win32Native): Promise<void> {
    for (;;) {
      let packets: Packet[];
      try {
        packets = await native.takePackets(this.port!, DRAIN_BATCH);
      } catch (err) {
        this.failAll(native, toEngineError(err));
        return;
      }
      for (const packet of packets) {
        if (packet.key === STOP_KEY) return;
        try {
          this.onPacket(native, packet);
        } catch (err) {
          // The engine no longer knows what the pool is doing: nothing it reports can be trusted.
          this.failAll(native, toEngineError(err));
          return;
        }
      }
    }
  }

  private onPacket(native: Win32Native, packet: Packet): void {
    const slot = this.slots[Number(packet.key & SLOT_MASK)];
    const job = slot?.job;
    // A stale packet: its record was handed back (and maybe launched again) before it
    // arrived. The work it was about has ended already (see handBack).
    if (slot === undefined || job === undefined || slot.key !== packet.key) { this.stalePackets++; return; }
    const { kind } = packet;
    const workId = job.spec.workId;
    const atNs = this.toNs(packet.qpc);
    const r = native.readJob(slot.record);

    if (kind === TPM_PACKET_RELEASED || kind === TPM_PACKET_RETIRED) {
      this.handBack(native, slot, job);
      if (job.stage !== 'ended') {
        if (r.rule !== 0) this.finish(job, { type: 'failed', workId, atNs, error: ruleError(r) });
        else if (kind === TPM_PACKET_RELEASED) this.onReleased(native, job, atNs);
        else this.finishUnreported(job, r, atNs);
      }
      this.pump();
      return;
    }
    if (job.stage === 'ended') return; // nothing follows a terminal phase
    switch (kind) {
      case TPM_PACKET_STARTED:
        job.stage = 'started';
        // Thread ids are reused and pool threads come and go: forget old ones now and then.
        if (this.threadIds.size >= 4 * this.limits.maxThreads) this.threadIds.clear();
        this.threadIds.add(r.thread_id);
        this.deliver({ type: 'started', workId, atNs, threadId: r.thread_id, mayRunLong: r.may_run_long_result < 0 ? null : r.may_run_long_result === 1 });
        return;
      case TPM_PACKET_ACQUIRED: {
        job.stage = 'acquired';
        job.token = Number(r.fencing_token);
        const mutex = job.mutex;
        mutex.unreleased.add(job.token);
        const held = mutex.deferred.get(job.token);
        if (held !== undefined) {
          mutex.deferred.delete(job.token);
          this.finish(held.job, { type: 'released', workId: held.job.spec.workId, atNs: held.atNs < atNs ? held.atNs : atNs });
        } else if (mutex.unreleased.has(job.token - 1)) {
          mutex.acquiredNs.set(job.token, atNs);
        }
        this.deliver({ type: 'acquired', workId, atNs, threadId: r.thread_id, abandoned: r.abandoned !== 0, fencingToken: job.token });
        return;
      }
      case TPM_PACKET_RETURNED:
        job.stage = 'returned';
        this.deliver({ type: 'returned', workId, atNs, signaled: r.signaled !== 0 });
        return;
      case TPM_PACKET_TIMED_OUT:
        this.finish(job, { type: 'timed_out', workId, atNs });
        return;
      case TPM_PACKET_CANCELLED:
        this.finish(job, { type: 'cancelled', workId, atNs });
        return;
      case TPM_PACKET_FAILED: {
        const error = r.error_fn === TPM_FN_CHECKED_RULE ? ruleError(r) : toEngineError(new Win32Error(r.error, TPM_FN_NAMES[r.error_fn] ?? 'tpmutex-shim'));
        this.finish(job, { type: 'failed', workId, atNs, error });
        return;
      }
      default:
        return;
    }
  }

  /** The wait callback's packet: no pool thread touches the record (or, for it, the mutex) any more. */
  private handBack(native: Win32Native, slot: Slot, job: Job): void {
    slot.job = undefined;
    slot.key = 0n;
    job.slot = undefined;
    this.freeSlots.push(slot);
    this.inPool--;
    const mutex = job.mutex;
    mutex.launched--;
    if (mutex.closed && mutex.launched === 0) {
      this.closingMutexes.delete(mutex);
      // Nobody is left to tell about a failure, and it must not stop the drain.
      try { this.closeMutexNative(native, mutex); } catch { /* the handle is unusable either way */ }
    }
  }

  /**
   * A callback returned owning nothing and no terminal packet of its own came first.
   * Either a cancel won the queued→cancelled exchange and its CANCELLED packet is
   * still on the way (it will be stale when it comes), or a post failed.
   */
  private finishUnreported(job: Job, r: TpmJob, atNs: Ns): void {
    const workId = job.spec.workId;
    if (r.state === TPM_JOB_CANCELLED) {
      const endedQpc = BigInt(r.ended_qpc);
      this.finish(job, { type: 'cancelled', workId, atNs: endedQpc > 0n ? this.toNs(endedQpc) : atNs });
      return;
    }
    const error = r.post_error !== 0
      ? toEngineError(new Win32Error(r.post_error, 'PostQueuedCompletionStatus'))
      : new EngineError('os_error', `the callback of work ${workId} returned without reporting its outcome`);
    this.finish(job, { type: 'failed', workId, atNs, error });
  }

  private closeMutexNative(native: Win32Native, mutex: OpenMutex): void {
    native.freeMutex(mutex.record);
    try {
      native.CloseHandle(mutex.handle);
    } catch (err) {
      throw toEngineError(err);
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
  private onReleased(native: Win32Native, job: Job, atNs: Ns): void {
    const workId = job.spec.workId;
    const mutex = job.mutex;
    if (job.token === 0) { this.finish(job, { type: 'released', workId, atNs }); return; }
    mutex.unreleased.delete(job.token);
    const nextToken = job.token + 1;
    const next = mutex.acquiredNs.get(nextToken);
    if (next !== undefined) {
      mutex.acquiredNs.delete(nextToken);
      this.finish(job, { type: 'released', workId, atNs: next < atNs ? next : atNs });
      return;
    }
    const issued = mutex.closed ? job.token : native.readFencing(mutex.record);
    if (issued >= nextToken) mutex.deferred.set(nextToken, { job, atNs });
    else this.finish(job, { type: 'released', workId, atNs });
  }

  /** Delivers every held-back `released` as it is (close(): no packet will follow). */
  private flushDeferred(): void {
    for (const mutex of new Set(this.mutexes.values())) {
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
    job.mutex.unended--;
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

  /**
   * The drain failed: no packet will be read again, so nothing the engine would report
   * from here on could be trusted. Every work fails now; callbacks in the pool are told
   * to stop (best effort); the engine takes nothing new. Their records, the mutex
   * records and handles stay allocated: pool threads may still use them, and no
   * handback will say when they stop. Only close() frees them, after the cleanup group
   * has waited for every callback.
   */
  private failAll(native: Win32Native, cause: EngineError): void {
    if (this.broken !== undefined) return;
    this.broken = new EngineError('engine_unavailable',
      `the win32 engine stopped: reading its completion port failed (${cause.message}); restart the service`, { cause });
    const atNs = this.nowNs();
    this.pending.clear();
    for (const job of [...this.works.values()]) {
      if (job.slot !== undefined) {
        try { native.tpm_job_cancel(job.slot.record); } catch { /* its outcome is unknown either way */ }
      }
      const error = new EngineError('os_error',
        `work ${job.spec.workId}: the engine lost track of it (${cause.message}); its callback was told to stop, the outcome is unknown`, { cause });
      this.finish(job, { type: 'failed', workId: job.spec.workId, atNs, error }, 'soon');
    }
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
      try { native.tpm_job_cancel(job.slot.record); } catch { /* its callback still ends on close */ }
    }
    let timer: NodeJS.Timeout | undefined;
    const returned = await Promise.race([
      native.CloseThreadpoolCleanupGroupMembers(this.group!, true).then(() => true),
      new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); }),
    ]);
    clearTimeout(timer);

    // Every packet of a returned callback was posted before it returned, so STOP is last.
    if (this.broken === undefined) {
      try { native.PostQueuedCompletionStatus(this.port!, 0, STOP_KEY, 0n); } catch { /* the drain has ended */ }
    }
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

  private releaseNative(native: Win32Native): void {
    const quietly = (fn: () => void): void => { try { fn(); } catch { /* closing anyway */ } };
    if (this.group !== undefined) quietly(() => native.CloseThreadpoolCleanupGroup(this.group!));
    if (this.pool !== undefined) quietly(() => native.CloseThreadpool(this.pool!));
    for (const slot of this.slots) {
      quietly(() => native.CloseHandle(slot.signal));
      quietly(() => native.CloseHandle(slot.done));
      quietly(() => native.freeJob(slot.record));
    }
    this.slots.length = 0;
    this.freeSlots.length = 0;
    for (const mutex of new Set([...this.mutexes.values(), ...this.closingMutexes])) quietly(() => this.closeMutexNative(native, mutex)); // aliases share one
    this.mutexes.clear();
    this.closingMutexes.clear();
    if (this.port !== undefined) quietly(() => native.CloseHandle(this.port!));
    if (this.environment !== undefined) quietly(() => native.freeEnvironment(this.environment!));
    quietly(() => native.release());
    this.group = this.pool = this.port = this.environment = undefined;
  }
}

/** A step checked mode refused: the Windows rule it would have broken, in words. */
function ruleError(r: TpmJob): EngineError {
  const seen = `NtQueryMutant status 0x${(r.rule_status >>> 0).toString(16).padStart(8, '0')}, OwnedByCaller ${r.rule_owned}, CurrentCount ${r.rule_count}`;
  const text: Record<number, [string, string]> = {
    [TPM_RULE_ACTION_TWICE]: ['SetEventWhenCallbackReturns',
      'registering the same callback-return action twice in one callback would raise an exception on Windows (one action of each kind per callback); the second one was not registered'],
    [TPM_RULE_RELEASE_NOT_OWNED]: ['ReleaseMutexWhenCallbackReturns',
      `ReleaseMutexWhenCallbackReturns on a mutex this thread does not own exactly once (${seen}) would raise STATUS_THREADPOOL_RELEASE_MUTEX_ON_COMPLETION_FAILED on Windows; it was not registered`],
    [TPM_RULE_HANDLE_CLOSED]: ['ReleaseMutexWhenCallbackReturns',
      `the pool releasing a mutex handle that is not open (${seen}) would raise an exception on Windows`],
  };
  const [fn, detail] = text[r.rule] ?? ['tpmutex-shim', `checked mode refused a step (rule ${r.rule})`];
  return new EngineError('rule_violation', `checked mode: ${detail}`, { fn });
}
