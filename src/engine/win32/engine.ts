/**
 * The win32 engine: a private Windows thread pool whose callbacks are the native shim
 * (src/native/shim.c), driven through koffi (native.ts). This file ties the parts
 * together: admission (the FIFO and pump), phase delivery through the handoff order,
 * shutdown, and error mapping. The parts, one job each (docs/design.md §2.1):
 * native-resources.ts (port, pool, job slots, mutex records), open-mutexes.ts (names
 * and handles), port-reader*.ts and drain.ts (the completion-port drain, on a thread of
 * its own), packets.ts (what a packet means).
 *
 * - Each work is a TP_WORK whose callback (tpm_work_callback) waits for the named mutex
 *   on its pool thread, registers ReleaseMutexWhenCallbackReturns, spins/holds and
 *   returns; the pool releases the mutex. A TP_WAIT on the work's `done` event
 *   (SetEventWhenCallbackReturns) reports "released" from another pool callback.
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
import { mutexOnly, unsupported } from '../unsupported.js';
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
import type { Job, JobSlot, OpenMutex } from './job.js';
import { loadNative, type Packet, type Win32Native } from './native.js';
import { NativeResources } from './native-resources.js';
import { OpenMutexes } from './open-mutexes.js';
import { handbackPhase, isHandback, slotIndexOf, stepPhase } from './packets.js';
import { DRAIN_STOP_KEY, TPM_CHECKED } from './protocol.js';

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
  /** Per-mutex handoff order (docs/design.md §1.4): `released(prev)` before `acquired(next)`. */
  private readonly handoffs: HandoffOrder<OpenMutex> = new HandoffOrder<OpenMutex>(
    (phase) => this.deliver(phase),
    (mutex): number => this.mutexes.lastToken(this.res!.native, mutex),
  );
  private readonly mutexes: OpenMutexes = new OpenMutexes(this.handoffs);
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
    return this.mutexes.open(res, name);
  }

  /**
   * Test hook, not part of the Engine contract: the access the handle of an open name
   * was granted (NtQueryObject), to check that the engine asks for no more than it needs.
   */
  grantedAccess(name: string): number {
    try {
      return this.res!.native.NtQueryObjectGrantedAccess(this.mutexes.of(name).handle);
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

  openSemaphore(_name: string, _init: SemaphoreInit): SemaphoreOpened { return unsupported('openSemaphore'); }
  closeSemaphore(_name: string): void { unsupported('closeSemaphore'); }
  probeSemaphore(_name: string): SemaphoreProbe { return unsupported('probeSemaphore'); }
  openEvent(_name: string, _init: EventInit): EventOpened { return unsupported('openEvent'); }
  closeEvent(_name: string): void { unsupported('closeEvent'); }
  probeEvent(_name: string): EventProbe { return unsupported('probeEvent'); }
  setEvent(_name: string): void { unsupported('setEvent'); }
  resetEvent(_name: string): void { unsupported('resetEvent'); }
  abandon(_spec: AbandonSpec): void { unsupported('abandon'); }

  submit(spec: WorkSpec): void {
    const res = this.assertRunning();
    const mutex = this.mutexes.of(mutexOnly(spec));
    if (this.works.has(spec.workId)) throw new Error(`work id ${spec.workId} is already submitted and not terminal`);
    checkWorkTimes(spec);
    const job: Job = { spec, mutex, stage: 'pending', slot: undefined, signaledEarly: false, token: 0 };
    if (this.inPool < this.limits.maxThreads && this.pending.size === 0) {
      this.launch(res, job); // throws: nothing was recorded
    } else {
      this.pending.set(spec.workId, job);
    }
    this.works.set(spec.workId, job);
    mutex.unended++;
    this.submitted++;
  }

  /** Submits a work to the pool: an armed job slot under a new generation, then SubmitThreadpoolWork. */
  private launch(res: NativeResources, job: Job): void {
    const { spec } = job;
    let slot: JobSlot;
    try {
      const checks = this.checked ? TPM_CHECKED | (this.testFlags?.(spec.workId) ?? 0) : 0;
      slot = res.arm(spec, job.mutex, checks, job.signaledEarly);
    } catch (err) {
      throw toEngineError(err);
    }
    slot.job = job;
    job.slot = slot;
    job.stage = 'submitted';
    job.mutex.launched++;
    this.inPool++;
    res.native.SubmitThreadpoolWork(slot.work);
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
    if (job === undefined) return;
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
      if (job.stage !== 'ended') this.finish(job, handbackPhase(packet.kind, workId, atNs, r, (qpc) => this.toNs(qpc)));
      // It owned the mutex but its ACQUIRED packet never came (a failed post): its turn is over anyway.
      const token = Number(r.fencing_token);
      if (job.token === 0 && token > 0) this.handoffs.endTurn(job.mutex, token);
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
        this.threadIds.add(phase.threadId);
        this.handoffs.push(job.mutex, phase);
        return;
      case 'acquired':
        job.stage = 'acquired';
        job.token = phase.fencingToken;
        this.handoffs.push(job.mutex, phase);
        return;
      case 'returned':
        job.stage = 'returned';
        this.handoffs.push(job.mutex, phase);
        return;
      default:
        this.finish(job, phase);
    }
  }

  /** The wait callback's packet: no pool thread touches the slot (or, for it, the mutex) any more. */
  private handBack(res: NativeResources, slot: JobSlot, job: Job): void {
    res.recycle(slot);
    job.slot = undefined;
    this.inPool--;
    this.mutexes.handedBack(res, job.mutex);
  }

  /**
   * The one way a work ends: bookkeeping first, then its terminal phase, through the
   * handoff order — now (from the drain) or soon (from inside a method call, which
   * must not deliver).
   */
  private finish(job: Job, phase: TerminalPhase, when: 'now' | 'soon' = 'now'): void {
    if (job.stage === 'ended') return;
    job.stage = 'ended';
    job.mutex.unended--;
    if (this.works.get(job.spec.workId) === job) this.works.delete(job.spec.workId);
    this.completed++;
    if (when === 'now') this.handoffs.push(job.mutex, phase);
    else setImmediate(() => this.handoffs.push(job.mutex, phase));
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
   * Cancel what has not started, abort waits, end holds (tpm_job_cancel does all three),
   * then wait — on a libuv worker, bounded by timeoutMs — for the callbacks through the
   * cleanup group, stop the drain behind the last packet, deliver the terminal phases
   * the port could not carry, and close everything.
   */
  private async shutdown(timeoutMs: number): Promise<void> {
    const res = this.res;
    if (res === undefined) return;
    const { native } = res;
    await Promise.resolve(); // close() itself must not deliver phases
    // Pending works never reach the pool. Then submitted ones, then waiting ones, and
    // holders last: ending a hold frees the mutex and the thread, which would let a
    // waiter acquire, or a submitted work start, before its own cancel came.
    const cancelledAt = this.nowNs();
    for (const job of this.pending.values()) this.finish(job, { type: 'cancelled', workId: job.spec.workId, atNs: cancelledAt });
    this.pending.clear();
    const inPool = [...this.works.values()];
    const rank = (job: Job): number => (job.stage === 'submitted' ? 0 : job.stage === 'started' ? 1 : 2);
    for (const job of inPool.sort((a, b) => rank(a) - rank(b))) {
      if (job.slot === undefined) continue;
      try { native.tpm_job_cancel(job.slot.record); } catch { /* its callback still ends on close */ }
    }
    let timer: NodeJS.Timeout | undefined;
    const returned = await Promise.race([
      native.CloseThreadpoolCleanupGroupMembers(res.group, true).then(() => true),
      new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); }),
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
      } else if (job.stage === 'acquired' || job.stage === 'returned') {
        // Its callback returned (the cleanup group waited for it), so the pool released
        // the mutex; only the wait callback's packet was cancelled with the group.
        this.finish(job, { type: 'released', workId, atNs, actions: ['release_mutex'] });
      } else {
        // Never started (the group cancelled the pending callback) or ended its wait.
        this.finish(job, { type: 'cancelled', workId, atNs });
      }
    }
    // No packet will come any more: whatever the handoff order still holds goes now.
    this.handoffs.flush();
    if (!returned) return; // callbacks still use the slots, the port and the mutexes: leak them
    res.release(this.mutexes.takeAll());
  }
}
