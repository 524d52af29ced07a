/**
 * The win32 engine: a private Windows thread pool whose callbacks are the native shim
 * (src/native/shim.c), driven through koffi (native.ts). This file ties the parts
 * together: admission (the FIFO and pump), phase delivery through the handoff order,
 * shutdown, and error mapping. The parts, one job each (docs/design.md §2.1):
 * native-resources.ts (port, pool, job slots, mutex/semaphore records), open-objects.ts
 * (names and handles of mutexes, semaphores and events), port-reader*.ts and drain.ts
 * (the completion-port drain, on a thread of its own), packets.ts (what a packet means).
 *
 * - Each work is a TP_WORK whose callback (tpm_work_callback) registers
 *   SetEventWhenCallbackReturns for setEventOnReturn, waits for the named mutex (or a
 *   semaphore unit) on its pool thread, registers ReleaseMutexWhenCallbackReturns (or
 *   ReleaseSemaphoreWhenCallbackReturns), spins/holds and returns; the pool performs
 *   the return actions. Its last statement sets the work's `done` event; a TP_WAIT on
 *   it waits for the callback's epilog (WaitForThreadpoolWorkCallbacks) and reports
 *   "released" from another pool callback (docs/design.md §2.1).
 * - An abandon job runs on a dedicated thread (tpm_abandon_start), which exits owning
 *   the mutex; a wait on the thread handle outside the private pool
 *   (RegisterWaitForSingleObject, so a busy pool cannot delay it) reports "abandoned"
 *   after the exit.
 * - Steps arrive as packets on one I/O completion port, read by a blocking
 *   GetQueuedCompletionStatusEx loop on the drain's own thread: neither the event loop
 *   nor a libuv pool thread waits for packets. No koffi callback is registered
 *   anywhere, so no JavaScript ever runs on a pool thread, and no pool thread ever
 *   waits for JavaScript.
 * - Job slots (native records with their events, TP_WORK and TP_WAIT) are recycled
 *   once the wait callback's packet (RELEASED or RETIRED, the "handback") has arrived:
 *   from then on no pool thread touches them.
 * - Generations: a packet's completion key is the job slot's index plus the generation
 *   of the launch that posted it. A packet can arrive after its slot was handed back
 *   and launched again: tpm_job_cancel posts CANCELLED after winning the
 *   queued→cancelled exchange, and in between the callback can return and the wait
 *   callback post RETIRED. A packet whose generation is not the slot's current one is
 *   dropped; a handback for a work that has not ended ends it from the record.
 * - A failure of the drain itself is fatal: every work fails, the engine takes nothing
 *   new (fault() says why, /readyz shows it), and no record is freed until the cleanup
 *   group has waited for every callback.
 * - At most maxThreads works are in the pool at once; the rest are pending in the
 *   engine's own FIFO. Windows (and Wine) keep threads above a lowered maximum until
 *   they idle out and add threads only on submission, so this admission is what makes
 *   PATCH /v1/pool take effect at once, both ways.
 * - Checked mode (options.checked): every job is launched with TPM_CHECKED, and the
 *   shim verifies the rules real Windows enforces by killing the process (see shim.c);
 *   a refusal arrives as a failed work whose error (rule_violation) names the rule.
 * - koffi and the DLL are loaded in start(), so constructing this class never fails for
 *   a missing native part (start() rejects with engine_unavailable instead). The
 *   native layer is one interface (Win32Native); tests pass a deterministic fake.
 */
import type { AbandonSpec, EventInit, EventOpened, EventProbe, SemaphoreInit, SemaphoreOpened, SemaphoreProbe } from '../types.js';
import { EngineError } from '../errors.js';
import { HandoffOrder } from '../handoff-order.js';
import { checkMutexName } from '../mutex-name.js';
import { checkPoolLimits } from '../pool-limits.js';
import type {
  Engine, EngineCloseOptions, EngineInfo, EngineOptions, MutexOpened, MutexProbe, Ns, Phase,
  PhaseListener, PoolLimits, PoolStats, TerminalPhase, WorkSpec,
} from '../types.js';
import { checkWorkTimes } from '../work-times.js';
import { drainPort } from './drain.js';
import { toEngineError } from './engine-errors.js';
import { abandonWorkSpec, type Job, type JobSlot, type OpenObject } from './job.js';
import { loadNative, type Packet, type Win32Native } from './native.js';
import { NativeResources } from './native-resources.js';
import { EVENT_OPS, MUTEX_OPS, OpenObjects, SEMAPHORE_OPS } from './open-objects.js';
import { handbackPhase, isHandback, returnActions, slotIndexOf, stepPhase } from './packets.js';
import {
  DRAIN_STOP_KEY, TPM_ACTION_RELEASE_MUTEX, TPM_ACTION_RELEASE_SEMAPHORE, TPM_ACTION_SET_EVENT, TPM_CHECKED,
} from './protocol.js';

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

export class Win32Engine implements Engine {
  private res: NativeResources | undefined;
  private readonly loadNative: () => Promise<Win32Native>;
  private readonly checked: boolean;
  private readonly testFlags: ((workId: string) => number) | undefined;
  /** Packets dropped because they came from an earlier launch of their slot. */
  private stalePackets = 0;
  private limits: PoolLimits;
  private listener: PhaseListener | undefined;
  /**
   * Per-mutex handoff order (docs/design.md §1.4): `released(prev)` before
   * `acquired(next)`; per semaphore, never more delivered holders than its maximum.
   */
  private readonly handoffs: HandoffOrder<OpenObject> = new HandoffOrder<OpenObject>(
    (phase) => this.deliver(phase),
    (object): number => (object.kind === 'semaphore' ? this.semaphores : this.mutexes).lastToken(this.res!.native, object),
  );
  private readonly mutexes: OpenObjects = new OpenObjects(MUTEX_OPS, this.handoffs);
  private readonly semaphores: OpenObjects = new OpenObjects(SEMAPHORE_OPS, this.handoffs);
  private readonly events: OpenObjects = new OpenObjects(EVENT_OPS, this.handoffs);
  /** Abandon jobs whose thread has not been handed back; shutdown waits for them. */
  private abandonsInFlight = 0;
  private onAbandonsDone: (() => void) | undefined;
  /** Works without a terminal phase, by id, in submission order. */
  private readonly works = new Map<string, Job>();
  /** Works waiting for room in the pool (stage pending), oldest first. */
  private readonly pending = new Map<string, Job>();
  /** Works submitted to the pool whose wait callback has not handed the slot back. */
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
      notifications: 'I/O completion port drained by GetQueuedCompletionStatusEx on its own thread (a worker_thread, not libuv\'s pool)',
      checked: this.checked,
      stalePacketsDropped: this.stalePackets,
      node: process.version,
    };
    if (this.res !== undefined) {
      Object.assign(details, this.res.native.details);
      details['qpcFrequency'] = Number(this.res.qpcFrequency);
      // The order released.actions lists (docs/design.md §1.3): the pool's own, which differs under Wine.
      details['returnActionOrder'] = this.res.native.isWine ? 'wine' : 'windows';
    }
    return { kind: 'win32', nameScope: 'os', clock: 'QueryPerformanceCounter (ns, monotonic)', details };
  }

  async start(): Promise<void> {
    if (this.res !== undefined) return;
    if (this.closing !== undefined) throw new EngineError('shutting_down', 'the win32 engine is closed');
    let native: Win32Native;
    try {
      native = await this.loadNative();
    } catch (err) {
      if (err instanceof EngineError) throw err;
      throw new EngineError('engine_unavailable', `win32 engine: cannot load koffi or kernel32: ${(err as Error).message}`, { cause: err });
    }
    let res: NativeResources;
    try {
      res = NativeResources.open(native, this.limits);
    } catch (err) {
      throw new EngineError('engine_unavailable', `win32 engine: ${(err as Error).message}`, { cause: err });
    }
    try {
      await native.startReading(res.port);
    } catch (err) {
      res.release([]);
      throw new EngineError('engine_unavailable', `win32 engine: the completion-port drain thread did not start: ${(err as Error).message}`, { cause: err });
    }
    this.res = res;
    this.drainLoop = drainPort(native, res.port, (packet) => this.onPacket(res, packet), (err) => this.failAll(res, toEngineError(err)));
  }

  nowNs(): Ns {
    const res = this.res;
    if (res === undefined) return process.hrtime.bigint(); // before start(): nothing to compare with
    return this.toNs(res.native.QueryPerformanceCounter());
  }

  onPhase(listener: PhaseListener): void {
    this.listener = listener;
  }

  fault(): EngineError | undefined {
    return this.broken;
  }

  openMutex(name: string): MutexOpened {
    const res = this.assertRunning();
    checkMutexName(name);
    const { existed, kernelName } = this.mutexes.open(res, name);
    return { existed, kernelName };
  }

  /**
   * Test hook, not part of the Engine contract: the access the handle of an open name
   * was granted (NtQueryObject), to check that the engine asks for no more than it needs.
   */
  grantedAccess(name: string): number {
    try {
      return this.res!.native.NtQueryObjectGrantedAccess(this.anyObject(name).handle);
    } catch (err) {
      throw toEngineError(err);
    }
  }

  /** Refuses (mutex_in_use) while a work on it has not ended (see OpenMutexes.close). */
  closeMutex(name: string): void {
    this.mutexes.close(this.res!, name);
  }

  probeMutex(name: string): MutexProbe {
    const mutex = this.mutexes.of(name);
    let info: { CurrentCount: number; OwnedByCaller: boolean; AbandonedState: boolean };
    try {
      info = this.res!.native.NtQueryMutant(mutex.handle);
    } catch (err) {
      throw toEngineError(err);
    }
    if (info.AbandonedState && info.CurrentCount === 1) return { state: 'abandoned', recursion: 0 };
    if (info.CurrentCount <= 0) return { state: 'held', recursion: 1 - info.CurrentCount };
    return { state: 'free', recursion: 0 };
  }

  /**
   * CreateSemaphoreExW with least access; an existing semaphore keeps its own counts
   * (the reported maximumCount is the object's, from NtQuerySemaphore).
   */
  openSemaphore(name: string, init: SemaphoreInit): SemaphoreOpened {
    const res = this.assertRunning();
    checkMutexName(name, 'semaphore');
    const { initialCount, maximumCount } = init;
    if (!Number.isSafeInteger(maximumCount) || maximumCount < 1 || maximumCount > 0x7fffffff) {
      throw new RangeError(`maximumCount must be an integer from 1 to ${0x7fffffff}, got ${maximumCount}`);
    }
    if (!Number.isSafeInteger(initialCount) || initialCount < 0 || initialCount > maximumCount) {
      throw new RangeError(`initialCount must be an integer from 0 to maximumCount (${maximumCount}), got ${initialCount}`);
    }
    const { existed, kernelName, object } = this.semaphores.open(res, name, (native) => native.CreateSemaphoreExW(name, initialCount, maximumCount));
    return { existed, kernelName, maximumCount: object.maximumCount };
  }

  /** Refuses (object_in_use) while a work on it has not ended. */
  closeSemaphore(name: string): void {
    this.semaphores.close(this.res!, name);
  }

  probeSemaphore(name: string): SemaphoreProbe {
    const semaphore = this.semaphores.of(name);
    try {
      const info = this.res!.native.NtQuerySemaphore(semaphore.handle);
      return { count: info.CurrentCount, maximumCount: info.MaximumCount };
    } catch (err) {
      throw toEngineError(err);
    }
  }

  /** CreateEventExW (CREATE_EVENT_MANUAL_RESET / CREATE_EVENT_INITIAL_SET) with least access. */
  openEvent(name: string, init: EventInit): EventOpened {
    const res = this.assertRunning();
    checkMutexName(name, 'event');
    const { existed, kernelName } = this.events.open(res, name, (native) => native.CreateNamedEventExW(name, init.manualReset, init.initialState));
    return { existed, kernelName };
  }

  /** Refuses (object_in_use) while a work that sets it has not ended. */
  closeEvent(name: string): void {
    this.events.close(this.res!, name);
  }

  /** NtQueryEvent: EventType 0 NotificationEvent (manual reset), 1 SynchronizationEvent (auto reset). */
  probeEvent(name: string): EventProbe {
    const event = this.events.of(name);
    try {
      const info = this.res!.native.NtQueryEvent(event.handle);
      return { signaled: info.EventState !== 0, manualReset: info.EventType === 0 };
    } catch (err) {
      throw toEngineError(err);
    }
  }

  setEvent(name: string): void {
    const event = this.events.of(name);
    try { this.res!.native.SetEvent(event.handle); } catch (err) { throw toEngineError(err); }
  }

  resetEvent(name: string): void {
    const event = this.events.of(name);
    try { this.res!.native.ResetEvent(event.handle); } catch (err) { throw toEngineError(err); }
  }

  /**
   * Abandonment on cue: a dedicated thread (not in the pool, not counted by its
   * admission) acquires the mutex and exits owning it (see tpm_abandon_start).
   */
  abandon(spec: AbandonSpec): void {
    const res = this.assertRunning();
    const mutex = this.mutexes.of(spec.mutex);
    if (this.works.has(spec.workId)) throw new Error(`work id ${spec.workId} is already submitted and not terminal`);
    const work = abandonWorkSpec(spec);
    checkWorkTimes(work);
    const job: Job = { spec: work, kind: 'abandon', object: mutex, event: undefined, stage: 'pending', slot: undefined, signaledEarly: false, token: 0 };
    this.launch(res, job); // throws: nothing was recorded
    this.works.set(spec.workId, job);
    mutex.unended++;
    this.submitted++;
  }

  submit(spec: WorkSpec): void {
    const res = this.assertRunning();
    const { acquire } = spec;
    const object = acquire.kind === 'mutex' ? this.mutexes.of(acquire.name)
      : acquire.kind === 'semaphore' ? this.semaphores.of(acquire.name) : undefined;
    const event = spec.setEventOnReturn === null ? undefined : this.events.of(spec.setEventOnReturn);
    if (this.works.has(spec.workId)) throw new Error(`work id ${spec.workId} is already submitted and not terminal`);
    checkWorkTimes(spec);
    const job: Job = { spec, kind: acquire.kind, object, event, stage: 'pending', slot: undefined, signaledEarly: false, token: 0 };
    if (this.inPool < this.limits.maxThreads && this.pending.size === 0) {
      this.launch(res, job); // throws: nothing was recorded
    } else {
      this.pending.set(spec.workId, job);
    }
    this.works.set(spec.workId, job);
    if (object !== undefined) object.unended++;
    if (event !== undefined) event.unended++;
    this.submitted++;
  }

  /**
   * Launches a job: an armed job slot under a new generation, then SubmitThreadpoolWork
   * (a work) or its dedicated thread (an abandon).
   */
  private launch(res: NativeResources, job: Job): void {
    const { spec } = job;
    let slot: JobSlot;
    try {
      const checks = this.checked ? TPM_CHECKED | (this.testFlags?.(spec.workId) ?? 0) : 0;
      slot = res.arm(job, checks);
    } catch (err) {
      throw toEngineError(err);
    }
    if (job.kind === 'abandon') {
      try {
        res.startAbandon(slot);
      } catch (err) {
        res.recycle(slot);
        throw toEngineError(err);
      }
    }
    slot.job = job;
    job.slot = slot;
    job.stage = 'submitted';
    if (job.object !== undefined) job.object.launched++;
    if (job.event !== undefined) job.event.launched++;
    if (job.kind === 'abandon') {
      this.abandonsInFlight++;
      return;
    }
    this.inPool++;
    res.native.SubmitThreadpoolWork(slot.work);
  }

  /** Any open object of that name (test hook helper): mutex, semaphore or event. */
  private anyObject(name: string): OpenObject {
    for (const objects of [this.mutexes, this.semaphores, this.events]) {
      try { return objects.of(name); } catch { /* try the next kind */ }
    }
    return this.mutexes.of(name); // throws mutex_not_open
  }

  /** A phase of a work in per-object order (docs/design.md §1.4); works on nothing (only an event) go straight out. */
  private route(job: Job, phase: Phase): void {
    if (job.object === undefined) this.deliver(phase);
    else this.handoffs.push(job.object, phase);
  }

  /** Moves pending works into the pool while it has room. */
  private pump(): void {
    const res = this.res;
    if (res === undefined || this.closing !== undefined || this.broken !== undefined) return;
    for (const job of this.pending.values()) {
      if (this.inPool >= this.limits.maxThreads) return;
      this.pending.delete(job.spec.workId);
      try {
        this.launch(res, job);
      } catch (err) {
        this.finish(job, { type: 'failed', workId: job.spec.workId, atNs: this.nowNs(), error: toEngineError(err) });
      }
    }
  }

  /** Unknown or already terminal work ids are ignored (the service validates ids). */
  signal(workId: string): void {
    const job = this.works.get(workId);
    if (job === undefined || job.kind === 'abandon') return; // an abandon has no hold to end
    if (job.slot === undefined) { job.signaledEarly = true; return; }
    try {
      this.res!.native.tpm_job_signal(job.slot.record);
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
      this.finish(job, { type: 'cancelled', workId, atNs: this.nowNs() }, 'soon');
      return;
    }
    try {
      // Not started yet: the shim posts its CANCELLED packet at once. Waiting: the wait
      // is aborted. Owning: the spin/hold ends like a signal.
      this.res!.native.tpm_job_cancel(job.slot.record);
    } catch (err) {
      throw toEngineError(err);
    }
  }

  poolStats(): PoolStats {
    let queued = 0;
    let active = 0;
    for (const job of this.works.values()) {
      if (job.kind === 'abandon') continue; // on its own thread, not in the pool
      const stage = job.stage;
      if (stage === 'pending' || stage === 'submitted') queued++;
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
    const res = this.res;
    if (res !== undefined && this.closing === undefined) {
      try {
        res.applyLimits(this.limits, next);
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

  private assertRunning(): NativeResources {
    if (this.closing !== undefined) throw new EngineError('shutting_down', 'the win32 engine is closing');
    if (this.broken !== undefined) throw this.broken;
    if (this.res === undefined) throw new EngineError('engine_unavailable', 'the win32 engine is not started');
    return this.res;
  }

  private toNs(qpc: bigint): Ns {
    return (qpc * 1_000_000_000n) / (this.res?.qpcFrequency ?? 1n);
  }

  /** One packet from the drain, in port order. */
  private onPacket(res: NativeResources, packet: Packet): void {
    const slot = res.slotOf(packet.key, slotIndexOf(packet.key));
    // A stale packet: its slot was handed back (and maybe launched again) before it
    // arrived. The work it was about has ended already (see handBack).
    if (slot === undefined) { this.stalePackets++; return; }
    const job = slot.job!;
    const workId = job.spec.workId;
    const atNs = this.toNs(packet.qpc);
    const r = res.native.readJob(slot.record);

    if (isHandback(packet.kind)) {
      this.handBack(res, slot, job);
      if (job.stage !== 'ended') this.finish(job, handbackPhase(packet.kind, workId, atNs, r, (qpc) => this.toNs(qpc), res.native.isWine));
      // It owned the mutex but its ACQUIRED packet never came (a failed post): its turn is over anyway.
      const token = Number(r.fencing_token);
      if (job.token === 0 && token > 0 && job.object?.kind === 'mutex') this.handoffs.endTurn(job.object, token);
      this.pump();
      return;
    }
    if (job.stage === 'ended') return; // nothing follows a terminal phase
    const phase = stepPhase(packet.kind, workId, atNs, r);
    if (phase === undefined) return;
    switch (phase.type) {
      case 'started':
        job.stage = 'started';
        // Thread ids are reused and pool threads come and go: forget old ones now and then.
        if (this.threadIds.size >= 4 * this.limits.maxThreads) this.threadIds.clear();
        if (job.kind !== 'abandon') this.threadIds.add(phase.threadId);
        this.route(job, phase);
        return;
      case 'acquired':
        job.stage = 'acquired';
        job.token = phase.fencingToken;
        this.route(job, phase);
        return;
      case 'returned':
        job.stage = 'returned';
        this.route(job, phase);
        return;
      default:
        this.finish(job, phase);
    }
  }

  /** The wait callback's packet: no pool thread touches the slot (or, for it, the mutex) any more. */
  private handBack(res: NativeResources, slot: JobSlot, job: Job): void {
    res.recycle(slot);
    job.slot = undefined;
    if (job.kind === 'abandon') {
      this.abandonsInFlight--;
      if (this.abandonsInFlight === 0) this.onAbandonsDone?.();
    } else {
      this.inPool--;
    }
    if (job.object !== undefined) (job.object.kind === 'semaphore' ? this.semaphores : this.mutexes).handedBack(res, job.object);
    if (job.event !== undefined) this.events.handedBack(res, job.event);
  }

  /**
   * The one way a work ends: bookkeeping first, then its terminal phase, through the
   * handoff order — now (from the drain) or soon (from inside a method call, which
   * must not deliver).
   */
  private finish(job: Job, phase: TerminalPhase, when: 'now' | 'soon' = 'now'): void {
    if (job.stage === 'ended') return;
    job.stage = 'ended';
    if (job.object !== undefined) job.object.unended--;
    if (job.event !== undefined) job.event.unended--;
    if (this.works.get(job.spec.workId) === job) this.works.delete(job.spec.workId);
    this.completed++;
    const push = (): void => {
      this.route(job, phase);
      // An abandon's end is the end of its turn, like a release (docs/design.md §1.4):
      // the next acquirer (who sees abandoned: true) may go.
      if (phase.type === 'abandoned' && job.object !== undefined && job.token > 0) this.handoffs.endTurn(job.object, job.token);
    };
    if (when === 'now') push();
    else setImmediate(push);
  }

  private deliver(phase: Phase): void {
    const listener = this.listener;
    if (listener === undefined) return;
    try {
      listener(phase);
    } catch (err) {
      // A listener bug must not stop the drain; surface it like an emitter would.
      queueMicrotask(() => { throw err; });
    }
  }

  /**
   * The drain failed: no packet will be read again, so nothing the engine would report
   * from here on could be trusted. Every work fails now; callbacks in the pool are told
   * to stop (best effort); the engine takes nothing new. Their slots, the mutex
   * records and handles stay allocated: pool threads may still use them, and no
   * handback will say when they stop. Only close() frees them, after the cleanup group
   * has waited for every callback.
   */
  private failAll(res: NativeResources, cause: EngineError): void {
    if (this.broken !== undefined) return;
    this.broken = new EngineError('engine_unavailable',
      `the win32 engine stopped: reading its completion port failed (${cause.message}); restart the service`, { cause });
    const atNs = this.nowNs();
    this.pending.clear();
    for (const job of [...this.works.values()]) {
      if (job.slot !== undefined) {
        try { res.native.tpm_job_cancel(job.slot.record); } catch { /* its outcome is unknown either way */ }
      }
      const error = new EngineError('os_error',
        `work ${job.spec.workId}: the engine lost track of it (${cause.message}); its callback was told to stop, the outcome is unknown`, { cause });
      this.finish(job, { type: 'failed', workId: job.spec.workId, atNs, error }, 'soon');
    }
  }

  /**
   * Cancel what has not started, abort waits, end holds — in that order (see
   * cancelInPool) — then wait, on a libuv worker and bounded by timeoutMs, for the
   * callbacks through the cleanup group, stop the drain behind the last packet, deliver
   * the terminal phases the port could not carry, and close everything.
   */
  private async shutdown(timeoutMs: number): Promise<void> {
    const res = this.res;
    if (res === undefined) return;
    const { native } = res;
    await Promise.resolve(); // close() itself must not deliver phases
    // Pending works never reach the pool.
    const cancelledAt = this.nowNs();
    for (const job of this.pending.values()) this.finish(job, { type: 'cancelled', workId: job.spec.workId, atNs: cancelledAt });
    this.pending.clear();
    this.cancelInPool(native);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
    // Abandon threads are no members of the cleanup group: wait for their handbacks
    // (the cancel ended their waits; an owner exits at once), so no thread and no exit
    // watch uses a record after release().
    const abandonsGone = this.abandonsInFlight === 0 ? Promise.resolve(true)
      : new Promise<true>((resolve) => { this.onAbandonsDone = () => resolve(true); });
    const returned = await Promise.race([
      abandonsGone.then(() => native.CloseThreadpoolCleanupGroupMembers(res.group, true)).then(() => true),
      deadline,
    ]);
    clearTimeout(timer);

    // Every packet of a returned callback was posted before it returned, so the wake-up
    // packet is last: the drain thread reads it and ends.
    if (this.broken === undefined) {
      try { native.PostQueuedCompletionStatus(res.port, 0, DRAIN_STOP_KEY, 0n); } catch { /* the drain has ended */ }
    }
    await this.drainLoop;

    const atNs = this.nowNs();
    for (const job of [...this.works.values()]) {
      const workId = job.spec.workId;
      if (!returned) {
        this.finish(job, { type: 'failed', workId, atNs, error: new EngineError('shutting_down', `work ${workId} did not return within ${timeoutMs} ms of close()`) });
      } else if (job.kind !== 'abandon' && (job.stage === 'acquired' || job.stage === 'returned')) {
        // Its callback returned (the cleanup group waited for it), so the pool performed
        // its return actions; only the wait callback's packet was cancelled with the group.
        this.finish(job, { type: 'released', workId, atNs, actions: this.actionsOf(job, native.isWine) });
      } else {
        // Never started (the group cancelled the pending callback) or ended its wait.
        this.finish(job, { type: 'cancelled', workId, atNs });
      }
    }
    // No packet will come any more: whatever the handoff order still holds goes now.
    this.handoffs.flush();
    if (!returned) return; // callbacks still use the slots, the port and the mutexes: leak them
    res.release([...this.mutexes.takeAll(), ...this.semaphores.takeAll(), ...this.events.takeAll()]);
  }

  /**
   * Every work in the pool (or on an abandon thread) is told to stop, holders last:
   * ending a hold frees the mutex or semaphore unit, and a waiter not yet told would
   * take it over instead of ending cancelled. Who holds is not what this thread has
   * read (a holder's ACQUIRED may still be on the port, so it looks 'started' like a
   * waiter), so the shim decides, on the job's own thread: tpm_job_abort cancels every
   * job that does not hold (queued ones at once; waits are aborted, and a wait that
   * finds both the cancel and a free object ends cancelled) and leaves holds alone;
   * only then does tpm_job_cancel end the holds.
   */
  private cancelInPool(native: Win32Native): void {
    const running: JobSlot[] = [];
    for (const job of this.works.values()) {
      if (job.slot === undefined) continue;
      try {
        if (!native.tpm_job_abort(job.slot.record)) running.push(job.slot);
      } catch {
        running.push(job.slot); // the cancel below may still reach it
      }
    }
    for (const slot of running) {
      try { native.tpm_job_cancel(slot.record); } catch { /* its callback still ends on close */ }
    }
  }

  /** The return actions a work that got through its callback had the pool perform. */
  private actionsOf(job: Job, wine: boolean): ReturnType<typeof returnActions> {
    const bits = (job.kind === 'mutex' ? TPM_ACTION_RELEASE_MUTEX : 0) | (job.kind === 'semaphore' ? TPM_ACTION_RELEASE_SEMAPHORE : 0) |
      (job.event !== undefined ? TPM_ACTION_SET_EVENT : 0);
    return returnActions(bits, wine);
  }
}
