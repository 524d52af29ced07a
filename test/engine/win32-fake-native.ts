/**
 * A deterministic fake of the native layer the win32 engine uses (Win32Native): the
 * shim's records, events, the completion port and the pool, in plain JavaScript, so the
 * engine's packet handling runs under Linux Node in `npm test`. Nothing runs by itself:
 * a test moves each callback step by step (start, acquire, time out, return, the wait
 * callback) and so posts packets in exactly the orders a loaded machine produces only
 * now and then. The steps do what src/native/shim.c does, in the same order.
 *
 * It also plays the part of Windows where Windows is strict: freeing a record or
 * closing a handle that a callback still uses, or the pool releasing a closed handle,
 * is recorded in `crashes` (on Windows the process would die), and a test asserts
 * that list is empty. And it notes each hold ended (tpm_job_signal, tpm_job_cancel)
 * while a waiter on the same object was not yet told to give up (`takeovers`): on
 * Windows that waiter could get the object next, which close() must never allow.
 */
import { sessionKernelName } from '../../src/engine/mutex-name.js';
import type { HANDLE, Packet, PVOID, Win32Native } from '../../src/engine/win32/native.js';
import {
  TPM_ACTION_RELEASE_MUTEX, TPM_ACTION_RELEASE_SEMAPHORE, TPM_ACTION_SET_EVENT,
  TPM_JOB_CANCELLED, TPM_JOB_QUEUED, TPM_JOB_STARTED, TPM_KIND_ABANDON, TPM_KIND_NONE, TPM_KIND_SEMAPHORE,
  TPM_PACKET_ABANDONED, TPM_PACKET_ACQUIRED, TPM_PACKET_CANCELLED, TPM_PACKET_FAILED,
  TPM_PACKET_RELEASED, TPM_PACKET_RETIRED, TPM_PACKET_RETURNED, TPM_PACKET_STARTED, TPM_PACKET_TIMED_OUT, type TpmJob,
} from '../../src/engine/win32/protocol.js';
import { Win32Error } from '../../src/engine/win32/win32-error.js';

type Kind = 'mutex' | 'semaphore' | 'event' | 'port' | 'pool' | 'group' | 'work' | 'wait' | 'thread';

/** One SubmitThreadpoolWork: the record and the completion key it was launched with. */
export interface Launch {
  readonly record: PVOID;
  readonly key: bigint;
  /** The callback has returned (its wait callback may still be due). */
  returned: boolean;
  /** An abandon job's dedicated thread (tpm_abandon_start), not a pool work. */
  readonly abandon: boolean;
  /** The wait callback ran: the record is handed back. */
  handedBack: boolean;
}

export class FakeWin32Native implements Win32Native {
  readonly details = { native: 'fake (test/engine/win32-fake-native.ts)' };
  /** Plays Wine (return actions mutex → semaphore → event) when true, Windows otherwise. */
  isWine = false;
  /** Every SubmitThreadpoolWork, in order. */
  readonly launches: Launch[] = [];
  /** What would have killed the process on Windows. */
  readonly crashes: string[] = [];
  /** Holds ended while a waiter on the same object had no cancel flag (it could take the object over). */
  readonly takeovers: string[] = [];
  /** Runs inside tpm_job_cancel, between winning queued→cancelled and posting CANCELLED. */
  betweenCancelAndPost: ((launch: Launch) => void) | undefined;
  /** The next takePackets call fails with this. */
  failTakeWith: Error | undefined;

  private nextHandle = 0x100n;
  private readonly handles = new Map<HANDLE, { kind: Kind; name?: string }>();
  private readonly jobs = new Map<PVOID, TpmJob>();
  private readonly mutexRecords = new Map<PVOID, { handle: HANDLE; fencing: number }>();
  private readonly mutexNames = new Set<string>();
  /** Named semaphores and events (one namespace with the mutexes, as in the OS). */
  private readonly semaphores = new Map<string, { count: number; max: number }>();
  private readonly events = new Map<string, { manual: boolean; set: boolean }>();
  private readonly workRecord = new Map<HANDLE, PVOID>();
  private packets: Packet[] = [];
  private wake: (() => void) | undefined;
  private qpc = 1_000n;

  // -- Win32Native -------------------------------------------------------------------

  QueryPerformanceFrequency(): bigint { return 1_000_000_000n; }
  QueryPerformanceCounter(): bigint { return (this.qpc += 1_000n); }

  CreateMutexExW(name: string): { handle: HANDLE; lastError: number } {
    if (this.semaphores.has(name) || this.events.has(name)) throw new Win32Error(6, 'CreateMutexExW'); // another kind
    const existed = this.mutexNames.has(name);
    this.mutexNames.add(name);
    return { handle: this.handle('mutex', name), lastError: existed ? 183 : 0 };
  }

  OpenMutexW(name: string): HANDLE {
    if (!this.mutexNames.has(name)) throw new Win32Error(2, 'OpenMutexW'); // ERROR_FILE_NOT_FOUND
    return this.handle('mutex', name);
  }

  NtQueryMutant(handle: HANDLE): { CurrentCount: number; OwnedByCaller: boolean; AbandonedState: boolean } {
    this.expectOpen(handle, 'NtQueryMutant');
    return { CurrentCount: 1, OwnedByCaller: false, AbandonedState: false };
  }

  /** The kernel name Windows gives a mutex in session 1. */
  NtQueryObjectName(handle: HANDLE): string {
    return sessionKernelName(this.expectOpen(handle, 'NtQueryObjectName').name ?? '', 1);
  }

  /** The least access the engine asks for (SYNCHRONIZE | MUTEX_MODIFY_STATE). */
  NtQueryObjectGrantedAccess(handle: HANDLE): number {
    this.expectOpen(handle, 'NtQueryObjectGrantedAccess');
    return 0x100001;
  }

  CloseHandle(handle: HANDLE): void {
    const object = this.expectOpen(handle, 'CloseHandle');
    if (object.kind === 'mutex') {
      for (const launch of this.live()) {
        const job = this.job(launch.record);
        if (job.mutex !== null && this.mutexRecords.get(job.mutex)?.handle === handle) {
          this.crashes.push(`CloseHandle(${object.name}) while the callback of key ${launch.key} still uses it`);
        }
      }
    }
    this.handles.delete(handle);
  }

  CreateEventExW(): HANDLE { return this.handle('event'); }

  ResetEvent(handle: HANDLE): void {
    const { name } = this.expectOpen(handle, 'ResetEvent');
    const event = name === undefined ? undefined : this.events.get(name);
    if (event !== undefined) event.set = false;
  }

  SetEvent(handle: HANDLE): void {
    const { name } = this.expectOpen(handle, 'SetEvent');
    const event = name === undefined ? undefined : this.events.get(name);
    if (event !== undefined) event.set = true;
  }

  CreateSemaphoreExW(name: string, initialCount: number, maximumCount: number): { handle: HANDLE; lastError: number } {
    if (this.mutexNames.has(name) || this.events.has(name)) throw new Win32Error(6, 'CreateSemaphoreExW');
    const existed = this.semaphores.has(name);
    if (!existed) this.semaphores.set(name, { count: initialCount, max: maximumCount });
    return { handle: this.handle('semaphore', name), lastError: existed ? 183 : 0 };
  }

  OpenSemaphoreW(name: string): HANDLE {
    if (!this.semaphores.has(name)) throw new Win32Error(2, 'OpenSemaphoreW');
    return this.handle('semaphore', name);
  }

  NtQuerySemaphore(handle: HANDLE): { CurrentCount: number; MaximumCount: number } {
    const { name } = this.expectOpen(handle, 'NtQuerySemaphore');
    const semaphore = this.semaphores.get(name ?? '');
    if (semaphore === undefined) throw new Win32Error(0xc0000024, 'NtQuerySemaphore'); // STATUS_OBJECT_TYPE_MISMATCH
    return { CurrentCount: semaphore.count, MaximumCount: semaphore.max };
  }

  CreateNamedEventExW(name: string, manualReset: boolean, initialState: boolean): { handle: HANDLE; lastError: number } {
    if (this.mutexNames.has(name) || this.semaphores.has(name)) throw new Win32Error(6, 'CreateEventExW');
    const existed = this.events.has(name);
    if (!existed) this.events.set(name, { manual: manualReset, set: initialState });
    return { handle: this.handle('event', name), lastError: existed ? 183 : 0 };
  }

  OpenEventW(name: string): HANDLE {
    if (!this.events.has(name)) throw new Win32Error(2, 'OpenEventW');
    return this.handle('event', name);
  }

  NtQueryEvent(handle: HANDLE): { EventType: number; EventState: number } {
    const { name } = this.expectOpen(handle, 'NtQueryEvent');
    const event = this.events.get(name ?? '');
    if (event === undefined) throw new Win32Error(0xc0000024, 'NtQueryEvent');
    return { EventType: event.manual ? 0 : 1, EventState: event.set ? 1 : 0 };
  }

  /** A named event's state, or undefined. */
  eventState(name: string): boolean | undefined {
    return this.events.get(name)?.set;
  }

  /** A named semaphore's count, or undefined. */
  semaphoreCount(name: string): number | undefined {
    return this.semaphores.get(name)?.count;
  }

  CreateIoCompletionPort(): HANDLE { return this.handle('port'); }

  PostQueuedCompletionStatus(port: HANDLE, kind: number, key: bigint, qpc: bigint): void {
    this.expectOpen(port, 'PostQueuedCompletionStatus');
    this.packets.push({ key, kind, qpc });
    this.wake?.();
  }

  async startReading(port: HANDLE): Promise<void> {
    this.expectOpen(port, 'startReading');
  }

  async takePackets(_port: HANDLE, max: number): Promise<Packet[]> {
    for (;;) {
      if (this.failTakeWith !== undefined) throw this.failTakeWith;
      if (this.packets.length > 0) {
        await new Promise((resolve) => setImmediate(resolve)); // like a libuv worker: never synchronous
        return this.packets.splice(0, max);
      }
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = undefined;
    }
  }

  CreateThreadpool(): HANDLE { return this.handle('pool'); }
  SetThreadpoolThreadMaximum(): void {}
  SetThreadpoolThreadMinimum(): void {}
  CreateThreadpoolCleanupGroup(): HANDLE { return this.handle('group'); }
  createEnvironment(): PVOID { return 0xe000n; }
  freeEnvironment(): void {}

  CreateThreadpoolWork(record: PVOID): HANDLE {
    const work = this.handle('work');
    this.workRecord.set(work, record);
    return work;
  }

  CreateThreadpoolWait(): HANDLE { return this.handle('wait'); }

  SubmitThreadpoolWork(work: HANDLE): void {
    const record = this.workRecord.get(work)!;
    this.launches.push({ record, key: BigInt(this.job(record).key), returned: false, handedBack: false, abandon: false });
  }

  /** As shim.c: the dedicated thread of an abandon job (its steps are moved by the test). */
  tpm_abandon_start(record: PVOID): HANDLE {
    const job = this.job(record);
    if (job.kind !== TPM_KIND_ABANDON) throw new Win32Error(87, 'tpm_abandon_start'); // ERROR_INVALID_PARAMETER
    const thread = this.handle('thread');
    job.thread = thread;
    this.launches.push({ record, key: BigInt(job.key), returned: false, handedBack: false, abandon: true });
    return thread;
  }

  SetThreadpoolWait(): void {}

  /** The group waits for running callbacks and cancels the rest; wait callbacks are cancelled too. */
  async CloseThreadpoolCleanupGroupMembers(): Promise<void> {
    for (const launch of this.live()) {
      launch.returned = true;
      launch.handedBack = true; // no wait callback will run for it any more
    }
  }

  CloseThreadpoolCleanupGroup(): void {}
  CloseThreadpool(): void {}

  allocJob(): PVOID {
    const record = this.nextHandle++ << 8n;
    this.jobs.set(record, {} as TpmJob);
    return record;
  }

  writeJob(record: PVOID, job: TpmJob): void {
    for (const launch of this.live()) {
      if (launch.record === record) this.crashes.push(`writeJob on the record of key ${launch.key} before its handback`);
    }
    this.jobs.set(record, { ...job });
  }

  readJob(record: PVOID): TpmJob { return { ...this.job(record) }; }
  freeJob(record: PVOID): void { this.jobs.delete(record); }

  allocMutex(handle: HANDLE, fencing: number): PVOID {
    const record = this.nextHandle++ << 8n;
    this.mutexRecords.set(record, { handle, fencing });
    return record;
  }

  readFencing(record: PVOID): number { return this.mutexRecords.get(record)!.fencing; }

  freeMutex(record: PVOID): void {
    for (const launch of this.live()) {
      if (this.job(launch.record).mutex === record) this.crashes.push(`freeMutex while the callback of key ${launch.key} still uses it`);
    }
    this.mutexRecords.delete(record);
  }

  tpm_job_signal(record: PVOID): void {
    this.endHold(record);
    this.job(record).signal_requested = 1;
  }

  /** As shim.c: a queued job is cancelled here (the CANCELLED packet is posted from this thread). */
  tpm_job_cancel(record: PVOID): boolean {
    if (this.cancelQueued(record)) return true;
    this.endHold(record);
    const job = this.job(record);
    job.cancel_requested = 1;
    job.signal_requested = 1;
    return false;
  }

  /** As shim.c: tpm_job_cancel without signal_requested, so a wait ends but a hold goes on. */
  tpm_job_abort(record: PVOID): boolean {
    if (this.cancelQueued(record)) return true;
    this.job(record).cancel_requested = 1;
    return false;
  }

  release(): void {}

  // -- steps of a callback, as shim.c takes them ---------------------------------------

  /** The launch of the n-th SubmitThreadpoolWork (0-based). */
  launch(n: number): Launch {
    const launch = this.launches[n];
    if (launch === undefined) throw new Error(`no launch #${n} (only ${this.launches.length})`);
    return launch;
  }

  /** The callback begins: claims the job, or returns at once if a cancel claimed it first. */
  start(launch: Launch): boolean {
    const job = this.job(launch.record);
    if (job.state !== TPM_JOB_QUEUED) {
      job.cancel_seen = 1;
      this.return(launch);
      return false;
    }
    job.state = TPM_JOB_STARTED;
    if (job.user_event !== null && job.user_event !== 0n) job.actions |= TPM_ACTION_SET_EVENT;
    if (job.kind === TPM_KIND_NONE) job.owned = 1; // as shim.c: its end is the pool's event action
    job.thread_id = 7;
    job.may_run_long_result = -1;
    job.started_qpc = this.QueryPerformanceCounter();
    this.post(launch, TPM_PACKET_STARTED);
    return true;
  }

  /** The wait returned WAIT_OBJECT_0: the release is registered, a token issued. */
  acquire(launch: Launch): void {
    const job = this.job(launch.record);
    if (job.kind === TPM_KIND_NONE) return; // as shim.c: a work on nothing never waits
    const mutex = this.mutexRecords.get(job.mutex!);
    if (mutex === undefined || !this.handles.has(mutex.handle)) {
      this.crashes.push(`the callback of key ${launch.key} waits on a freed mutex record or a closed handle`);
      return;
    }
    job.owned = 1;
    if (job.kind === TPM_KIND_SEMAPHORE) {
      job.actions |= TPM_ACTION_RELEASE_SEMAPHORE;
      const semaphore = this.semaphores.get(this.handles.get(mutex.handle)?.name ?? '');
      if (semaphore !== undefined) semaphore.count--;
    } else if (job.kind !== TPM_KIND_ABANDON) {
      job.actions |= TPM_ACTION_RELEASE_MUTEX;
    }
    job.fencing_token = ++mutex.fencing;
    job.acquired_qpc = this.QueryPerformanceCounter();
    this.post(launch, TPM_PACKET_ACQUIRED);
  }

  timeOut(launch: Launch): void { this.end(launch, TPM_PACKET_TIMED_OUT); }
  abortWait(launch: Launch): void { this.end(launch, TPM_PACKET_CANCELLED); }

  /** A step fails with `fields` in the record (a checked-mode refusal, a wait failure...). */
  fail(launch: Launch, fields: Partial<TpmJob>): void {
    Object.assign(this.job(launch.record), fields);
    this.end(launch, TPM_PACKET_FAILED);
  }

  /** The callback returns: RETURNED if it owned; then the pool releases the mutex. */
  return(launch: Launch): void {
    const job = this.job(launch.record);
    if (launch.abandon) {
      launch.returned = true; // the thread exits, owning what it owns
      return;
    }
    if (job.owned !== 0) {
      job.returned_qpc = this.QueryPerformanceCounter();
      this.post(launch, TPM_PACKET_RETURNED);
      if (job.kind !== TPM_KIND_NONE) {
        const mutex = this.mutexRecords.get(job.mutex!);
        if (mutex === undefined || !this.handles.has(mutex.handle)) {
          this.crashes.push(`the pool releases a closed handle after the callback of key ${launch.key}`);
        } else if (job.kind === TPM_KIND_SEMAPHORE) {
          const semaphore = this.semaphores.get(this.handles.get(mutex.handle)?.name ?? '');
          if (semaphore !== undefined) semaphore.count++;
        }
      }
    }
    if ((job.actions & TPM_ACTION_SET_EVENT) !== 0) {
      if (job.user_event === null || !this.handles.has(job.user_event)) {
        this.crashes.push(`the pool sets a closed event after the callback of key ${launch.key}`);
      } else {
        this.SetEvent(job.user_event);
      }
    }
    launch.returned = true;
  }

  /** The wait callback on `done`: the handback (RELEASED or RETIRED). */
  waitCallback(launch: Launch, fields: Partial<TpmJob> = {}): void {
    if (!launch.returned) throw new Error('the wait callback runs only after the callback returned');
    const job = this.job(launch.record);
    Object.assign(job, fields);
    launch.handedBack = true;
    if (job.owned === 0 && job.cancel_seen !== 0) job.cancel_seen = 2;
    const owned = job.owned !== 0;
    this.post(launch, launch.abandon ? (owned ? TPM_PACKET_ABANDONED : TPM_PACKET_RETIRED) : owned ? TPM_PACKET_RELEASED : TPM_PACKET_RETIRED);
  }

  /** A whole callback that acquires at once and returns: started, acquired, returned, released. */
  runThrough(launch: Launch): void {
    if (this.start(launch)) {
      this.acquire(launch);
      this.return(launch);
    }
    this.waitCallback(launch);
  }

  /** A packet with any key, as a late post from an earlier launch would bring. */
  postRaw(key: bigint, kind: number): void {
    this.packets.push({ key, kind, qpc: this.QueryPerformanceCounter() });
    this.wake?.();
  }

  /** Open handles of the given kind (mutexes: by name). */
  openMutexNames(): string[] {
    return [...this.handles.values()].filter((h) => h.kind === 'mutex').map((h) => h.name!);
  }

  // -----------------------------------------------------------------------------------

  private cancelQueued(record: PVOID): boolean {
    const job = this.job(record);
    if (job.state !== TPM_JOB_QUEUED) return false;
    job.state = TPM_JOB_CANCELLED;
    const launch = this.launches.findLast((l) => l.record === record)!;
    this.betweenCancelAndPost?.(launch);
    job.ended_qpc = this.QueryPerformanceCounter();
    this.PostQueuedCompletionStatus(job.port!, TPM_PACKET_CANCELLED, BigInt(job.key), BigInt(job.ended_qpc));
    return true;
  }

  /**
   * A signal reaches the job's callback: if it holds (its wait got the object and it has
   * not returned), the hold ends and the pool gives the object back; every other
   * callback still waiting on that object without a cancel flag could take it next.
   */
  private endHold(record: PVOID): void {
    const holder = this.launches.findLast((l) => l.record === record);
    const job = this.job(record);
    if (holder === undefined || holder.returned || holder.abandon || job.owned === 0 || job.kind === TPM_KIND_NONE) return;
    for (const launch of this.live()) {
      const other = this.job(launch.record);
      if (launch === holder || launch.returned || other.mutex !== job.mutex) continue;
      if (other.state === TPM_JOB_STARTED && other.owned === 0 && other.cancel_requested === 0) {
        this.takeovers.push(`the hold of key ${holder.key} ended while key ${launch.key} waited on the same object, not cancelled`);
      }
    }
  }

  private end(launch: Launch, kind: number): void {
    this.job(launch.record).ended_qpc = this.QueryPerformanceCounter();
    this.post(launch, kind);
    this.return(launch);
  }

  private post(launch: Launch, kind: number): void {
    const job = this.job(launch.record);
    const stamp = kind === TPM_PACKET_STARTED ? job.started_qpc : kind === TPM_PACKET_ACQUIRED ? job.acquired_qpc
      : kind === TPM_PACKET_RETURNED ? job.returned_qpc : this.QueryPerformanceCounter();
    this.PostQueuedCompletionStatus(job.port!, kind, launch.key, BigInt(stamp));
  }

  private live(): Launch[] {
    return this.launches.filter((l) => !l.handedBack);
  }

  private job(record: PVOID): TpmJob {
    const job = this.jobs.get(record);
    if (job === undefined) throw new Error(`record ${record} is not allocated`);
    return job;
  }

  private handle(kind: Kind, name?: string): HANDLE {
    const handle = this.nextHandle++ << 2n;
    this.handles.set(handle, { kind, ...(name === undefined ? {} : { name }) });
    return handle;
  }

  private expectOpen(handle: HANDLE, fn: string): { kind: Kind; name?: string } {
    const object = this.handles.get(handle);
    if (object === undefined) throw new Win32Error(6, fn); // ERROR_INVALID_HANDLE
    return object;
  }
}
