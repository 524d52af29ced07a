/**
 * The win32 engine's native resources: the DLLs (through the Win32Native layer), the
 * completion port, the private pool with its cleanup group and callback environment,
 * the mutex records, and the shim's job slots, recycled from one work to the next with
 * their events, TP_WORK and TP_WAIT. Opening undoes itself on failure; release() closes
 * everything, and is called only when no pool thread can touch any of it any more.
 */
import type { PoolLimits } from '../types.js';
import type { Job, JobSlot, OpenObject } from './job.js';
import type { HANDLE, PVOID, Win32Native } from './native.js';
import { launchKey, MAX_JOB_SLOTS } from './packets.js';
import { TPM_KIND_ABANDON, TPM_KIND_MUTEX, TPM_KIND_NONE, TPM_KIND_SEMAPHORE, type TpmJob } from './protocol.js';

const KIND_CODES = { mutex: TPM_KIND_MUTEX, semaphore: TPM_KIND_SEMAPHORE, none: TPM_KIND_NONE, abandon: TPM_KIND_ABANDON } as const;

export class NativeResources {
  private readonly slots: JobSlot[] = [];
  private readonly freeSlots: JobSlot[] = [];
  /** Launches so far: the generation of the next one is launches + 1. */
  private launches = 0n;

  private constructor(
    readonly native: Win32Native,
    readonly qpcFrequency: bigint,
    readonly port: HANDLE,
    readonly pool: HANDLE,
    readonly group: HANDLE,
    private readonly environment: PVOID,
  ) {}

  /** Port, pool (with `limits`), cleanup group and environment; throws (Win32Error) after undoing what was made. */
  static open(native: Win32Native, limits: PoolLimits): NativeResources {
    const made: (() => void)[] = [];
    const quietly = (fn: () => void): void => { try { fn(); } catch { /* undoing anyway */ } };
    try {
      const qpcFrequency = native.QueryPerformanceFrequency();
      const port = native.CreateIoCompletionPort();
      made.push(() => native.CloseHandle(port));
      const pool = native.CreateThreadpool();
      made.push(() => native.CloseThreadpool(pool));
      applyLimits(native, pool, limits, limits);
      const group = native.CreateThreadpoolCleanupGroup();
      made.push(() => native.CloseThreadpoolCleanupGroup(group));
      const environment = native.createEnvironment(pool, group);
      return new NativeResources(native, qpcFrequency, port, pool, group, environment);
    } catch (err) {
      for (const undo of made.reverse()) quietly(undo);
      quietly(() => native.release());
      throw err;
    }
  }

  /** Sets both limits in an order that never has min above max in between. */
  applyLimits(from: PoolLimits, to: PoolLimits): void {
    applyLimits(this.native, this.pool, from, to);
  }

  /**
   * A free job slot (recycled, or new) armed for `job`, under a new launch generation;
   * throws, keeping nothing, on failure. A work's TP_WAIT is armed on `done`; an abandon
   * job's end is watched by the shim (startAbandon).
   */
  arm(job: Job, checks: number): JobSlot {
    const { native } = this;
    const { spec, kind } = job;
    const slot = this.freeSlots.pop() ?? this.createSlot();
    const key = launchKey(this.launches + 1n, slot.index);
    try {
      native.writeJob(slot.record, {
        port: this.port, key, mutex: job.object?.record ?? null, signal: slot.signal, done: slot.done,
        acquire_timeout_ms: spec.acquireTimeoutMs, spin_ms: spec.spinMs, hold_ms: spec.holdMs,
        may_run_long: spec.mayRunLong ? 1 : 0,
        state: 0, signal_requested: 0, cancel_requested: 0, thread_id: 0, may_run_long_result: -1,
        wait_result: 0, owned: 0, abandoned: 0, signaled: 0, error: 0, error_fn: 0, post_error: 0,
        checks, actions: 0, rule: 0, rule_status: 0, rule_count: 0, rule_owned: 0, cancel_seen: 0,
        fencing_token: 0, started_qpc: 0, acquired_qpc: 0, returned_qpc: 0, ended_qpc: 0,
        kind: KIND_CODES[kind], user_event: job.event?.handle ?? null, work: slot.work, thread: null, exit_wait: null,
      } satisfies Record<keyof TpmJob, unknown>);
      // A recycled slot's events may still be set from its last work.
      native.ResetEvent(slot.signal);
      native.ResetEvent(slot.done);
      if (kind !== 'abandon') native.SetThreadpoolWait(slot.wait, slot.done);
      if (job.signaledEarly && kind !== 'abandon') native.tpm_job_signal(slot.record);
    } catch (err) {
      this.freeSlots.push(slot);
      throw err;
    }
    this.launches++;
    slot.key = key;
    return slot;
  }

  /**
   * Starts an armed abandon job's thread. The shim watches its exit outside the
   * engine's pool (whose threads may all be busy) and posts the terminal packet then.
   * Throws (the slot is not launched then; give it back with recycle).
   */
  startAbandon(slot: JobSlot): void {
    slot.thread = this.native.tpm_abandon_start(slot.record);
  }

  /** The slot a packet's key names, if that key is its current launch (else the packet is stale). */
  slotOf(key: bigint, index: number): JobSlot | undefined {
    const slot = this.slots[index];
    return slot !== undefined && slot.key === key && slot.job !== undefined ? slot : undefined;
  }

  /** The wait callback's packet came: no pool thread touches the slot any more. */
  recycle(slot: JobSlot): void {
    if (slot.thread !== 0n) {
      // The abandon thread has exited (its wait fired); nobody needs its handle any more.
      try { this.native.CloseHandle(slot.thread); } catch { /* nothing to do about it */ }
      slot.thread = 0n;
    }
    slot.job = undefined;
    slot.key = 0n;
    this.freeSlots.push(slot);
  }

  /** The mutex record (handle + fencing counter, continuing from `fencing`). */
  allocMutex(handle: HANDLE, fencing: number): PVOID {
    return this.native.allocMutex(handle, fencing);
  }

  /** Frees an object's record and closes its handle: only once no pool thread can use them. */
  closeObject(object: OpenObject): void {
    if (object.record !== 0n) this.native.freeMutex(object.record);
    this.native.CloseHandle(object.handle);
  }

  /** Closes everything, open objects included; call only when no callback can run any more. */
  release(objects: Iterable<OpenObject>): void {
    const { native } = this;
    const quietly = (fn: () => void): void => { try { fn(); } catch { /* closing anyway */ } };
    quietly(() => native.CloseThreadpoolCleanupGroup(this.group));
    quietly(() => native.CloseThreadpool(this.pool));
    for (const slot of this.slots) {
      if (slot.thread !== 0n) quietly(() => native.CloseHandle(slot.thread));
      quietly(() => native.CloseHandle(slot.signal));
      quietly(() => native.CloseHandle(slot.done));
      quietly(() => native.freeJob(slot.record));
    }
    this.slots.length = 0;
    this.freeSlots.length = 0;
    for (const object of objects) quietly(() => this.closeObject(object));
    quietly(() => native.CloseHandle(this.port));
    quietly(() => native.freeEnvironment(this.environment));
    quietly(() => native.release());
  }

  /** A new record with its events and thread-pool objects; undone on failure. */
  private createSlot(): JobSlot {
    const { native } = this;
    if (this.slots.length >= MAX_JOB_SLOTS) throw new Error(`more than ${MAX_JOB_SLOTS} job records`);
    const record = native.allocJob();
    const made: HANDLE[] = [];
    try {
      const signal = native.CreateEventExW(true);
      made.push(signal);
      const done = native.CreateEventExW(false); // auto-reset: consumed by the wait
      made.push(done);
      // Members of the cleanup group: CloseThreadpoolCleanupGroupMembers closes them.
      const wait = native.CreateThreadpoolWait(record, this.environment);
      const work = native.CreateThreadpoolWork(record, this.environment);
      const slot: JobSlot = { index: this.slots.length, record, signal, done, work, wait, key: 0n, job: undefined, thread: 0n };
      this.slots.push(slot);
      return slot;
    } catch (err) {
      for (const h of made) native.CloseHandle(h);
      native.freeJob(record);
      throw err;
    }
  }
}

function applyLimits(native: Win32Native, pool: HANDLE, from: PoolLimits, to: PoolLimits): void {
  if (to.minThreads > from.maxThreads) {
    native.SetThreadpoolThreadMaximum(pool, to.maxThreads);
    native.SetThreadpoolThreadMinimum(pool, to.minThreads);
  } else {
    native.SetThreadpoolThreadMinimum(pool, to.minThreads);
    native.SetThreadpoolThreadMaximum(pool, to.maxThreads);
  }
}
