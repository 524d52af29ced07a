/**
 * The emulated engine: the win32 engine's semantics with real threads and no Windows.
 *
 * - Callbacks run on a pool of worker_threads (see pool.ts) that grows while callbacks
 *   block, like the Windows pool.
 * - Mutexes, semaphores and events live in a SharedArrayBuffer table (mutex-table.ts);
 *   a callback waits for its mutex or semaphore unit on its own thread with
 *   Atomics.wait and the real timeout, and its epilog performs the return actions after
 *   the body returns, in Windows' order: mutex → event → semaphore (callback.ts,
 *   docs/design.md §1.3).
 * - A worker that dies owning a mutex leaves it abandoned; the next acquirer is told.
 *   abandon() does that on cue, on a dedicated thread (abandon-thread.ts).
 * - Names are process-local: nothing outside this engine instance sees them. Each name
 *   still gets the kernel name Windows would give it in the configured session (option
 *   `session`, default 1), names with the same kernel name are one object, and the three
 *   kinds share one namespace (object-handles.ts).
 * - The main thread never blocks: it only reads, stores and notifies shared words.
 */
import type { AbandonSpec, EventInit, EventOpened, EventProbe, SemaphoreInit, SemaphoreOpened, SemaphoreProbe } from '../types.js';
import { EngineError, type EngineErrorCode } from '../errors.js';
import { checkMutexName } from '../mutex-name.js';
import {
  isTerminalPhase, type Engine, type EngineCloseOptions, type EngineInfo, type EngineOptions, type MutexOpened,
  type MutexProbe, type Ns, type Phase, type PhaseListener, type PoolLimits, type PoolStats, type TerminalPhase, type WorkSpec,
} from '../types.js';
import { checkWorkTimes } from '../work-times.js';
import { nowNs } from './clock.js';
import { ObjectHandles } from './object-handles.js';
import { AbandonThread } from './abandon-thread.js';
import { initEvent, readEventProbe, resetEventEntry, setEventEntry } from './event-entry.js';
import { initSemaphore, readSemaphoreProbe, releaseUnit, semaphoreMaximum } from './semaphore-entry.js';
import { HandoffOrder } from '../handoff-order.js';
import { abandonIfOwnedBy, chunkBytes, lastFencingToken, readProbe, wakeWaiters, type EntryRef } from './mutex-entry.js';
import { MutexTable } from './mutex-table.js';
import { PhaseSink } from './phase-sink.js';
import { checkPoolLimits } from '../pool-limits.js';
import { WorkerPool } from './pool.js';
import { NO_ENTRY, type RunPhase, type WorkerPhase } from './protocol.js';
import type { Job } from './job.js';

export interface EmulatedEngineOptions extends EngineOptions {
  /** How long an idle worker above minThreads lives before it exits. Default 30 s. */
  readonly idleRetireMs?: number;
  /** Mutex entries per SharedArrayBuffer chunk; the table grows a chunk at a time. Default 1024 (24 KB). */
  readonly tableChunkEntries?: number;
  /**
   * The Windows session this engine pretends to run in, for kernel names: 1 (an
   * interactive session, the default) or 0 (a service, where `Local\x` and `Global\x`
   * are one mutex).
   */
  readonly session?: number;
}

/** Why a test made openMutex refuse a name (see refuseOpen). */
export type OpenRefusal = Extract<EngineErrorCode, 'access_denied' | 'privilege_required'>;

const DEFAULT_IDLE_RETIRE_MS = 30_000;
/** The largest semaphore count Windows accepts (LONG). */
const MAX_SEMAPHORE_COUNT = 0x7fffffff;
const DEFAULT_TABLE_CHUNK_SLOTS = 1024;

export class EmulatedEngine implements Engine {
  readonly info: EngineInfo;
  private readonly table: MutexTable;
  private readonly handles: ObjectHandles;
  /** The dedicated threads of abandon works that have not exited. */
  private readonly abandonThreads = new Set<AbandonThread>();
  private readonly pool: WorkerPool;
  private readonly sink = new PhaseSink();
  /** Per-mutex handoff order (docs/design.md §1.4): `released(prev)` before `acquired(next)`, release stamps no later than the next acquisition. */
  private readonly handoffs = new HandoffOrder<number>(
    (phase) => this.sink.deliver(phase),
    (entry) => lastFencingToken(this.table.ref(entry)),
  );
  /** Submitted works that have no terminal phase yet. */
  private readonly works = new Map<string, Job>();
  private submitted = 0;
  private completed = 0;
  private closing: Promise<void> | undefined;
  /** Set while close() waits for the last work to end. */
  private onDrained: (() => void) | undefined;
  /** Names a test made unopenable (refuseOpen). */
  private readonly refusals = new Map<string, OpenRefusal>();

  constructor(options: EmulatedEngineOptions) {
    const limits = checkPoolLimits(options.pool);
    const chunkEntries = options.tableChunkEntries ?? DEFAULT_TABLE_CHUNK_SLOTS;
    const idleRetireMs = options.idleRetireMs ?? DEFAULT_IDLE_RETIRE_MS;
    // The pool exists before the first chunk is added (at the first openMutex).
    this.table = new MutexTable(chunkEntries, (index, buffer) => this.pool.shareTableChunk(index, buffer));
    this.handles = new ObjectHandles(this.table, options.session ?? 1);
    this.pool = new WorkerPool(limits, this.table, {
      phase: (job, phase) => this.onWorkerPhase(job, phase),
      workerDied: (job, threadId, error) => this.onWorkerDied(job, threadId, error),
      unrunnable: (jobs, error) => this.onUnrunnable(jobs, error),
    }, { idleRetireMs });
    this.info = {
      kind: 'emulated',
      nameScope: 'process',
      clock: 'process.hrtime.bigint (ns, monotonic)',
      details: {
        threads: 'node:worker_threads',
        mutexTable: 'SharedArrayBuffer + Atomics.wait/notify',
        mutexEntryBytes: chunkBytes(1),
        tableChunkEntries: chunkEntries,
        idleRetireMs,
        session: options.session ?? 1,
        // The order of ReleasedPhase.actions: Windows' (mutex → event → semaphore), not
        // Wine's (mutex → semaphore → event); docs/design.md §1.3.
        returnActionOrder: 'windows',
        node: process.version,
      },
    };
  }

  /** Spawns minThreads workers; rejects with EngineError('engine_unavailable') if one cannot start. */
  async start(): Promise<void> {
    try {
      await this.pool.start();
    } catch (error) {
      // An engine whose pool cannot start refuses everything, rather than queue forever.
      this.closing = this.pool.shutdown();
      await this.closing;
      throw new EngineError('engine_unavailable', `emulated engine: a worker thread could not start: ${String(error)}`, { cause: error });
    }
  }

  nowNs(): Ns {
    return nowNs();
  }

  /** Nothing here is fatal to the engine: a dead worker fails only its own work. */
  fault(): EngineError | undefined {
    return undefined;
  }

  onPhase(listener: PhaseListener): void {
    this.sink.setListener(listener);
  }

  /**
   * `existed` is true only if this engine already had the mutex open (under this name
   * or another with the same kernel name): names are process-local.
   */
  openMutex(name: string): MutexOpened {
    this.assertOpen();
    checkMutexName(name);
    const refusal = this.refusals.get(name);
    if (refusal !== undefined) throw refusedOpen(name, refusal);
    const { existed, kernelName, entry, lastToken } = this.handles.open(name, 'mutex');
    if (!existed) this.handoffs.newMutex(entry, lastToken);
    return { existed, kernelName };
  }

  /**
   * Forget the name. The service guarantees no work uses it; if one still does, its entry
   * stays valid until that work ends. Throws EngineError('mutex_not_open').
   */
  closeMutex(name: string): void {
    this.handles.close(name, 'mutex');
  }

  /** Throws EngineError('mutex_not_open'). */
  probeMutex(name: string): MutexProbe {
    return readProbe(this.table.ref(this.handles.entryOf(name, 'mutex')));
  }

  /**
   * Open or create; an existing semaphore keeps its own counts (the init is ignored, as
   * CreateSemaphoreExW ignores them for an existing object), but the init is checked
   * either way, as CreateSemaphoreExW checks its arguments first.
   */
  openSemaphore(name: string, init: SemaphoreInit): SemaphoreOpened {
    this.assertOpen();
    checkMutexName(name, 'semaphore');
    const { initialCount, maximumCount } = init;
    if (!Number.isInteger(maximumCount) || maximumCount < 1 || maximumCount > MAX_SEMAPHORE_COUNT) {
      throw new RangeError(`semaphore ${name}: maximumCount must be an integer from 1 to ${MAX_SEMAPHORE_COUNT} (got ${maximumCount})`);
    }
    if (!Number.isInteger(initialCount) || initialCount < 0 || initialCount > maximumCount) {
      throw new RangeError(`semaphore ${name}: initialCount must be an integer from 0 to maximumCount ${maximumCount} (got ${initialCount})`);
    }
    const { existed, kernelName, entry } = this.handles.open(name, 'semaphore', (fresh) => initSemaphore(this.table.ref(fresh), initialCount, maximumCount));
    const maximum = semaphoreMaximum(this.table.ref(entry));
    if (!existed) this.handoffs.newSemaphore(entry, maximum);
    return { existed, kernelName, maximumCount: maximum };
  }

  /** Throws EngineError('object_not_open' | 'object_in_use'). */
  closeSemaphore(name: string): void {
    this.handles.close(name, 'semaphore');
  }

  /** Throws EngineError('object_not_open'). */
  probeSemaphore(name: string): SemaphoreProbe {
    return readSemaphoreProbe(this.table.ref(this.handles.entryOf(name, 'semaphore')));
  }

  openEvent(name: string, init: EventInit): EventOpened {
    this.assertOpen();
    checkMutexName(name, 'event');
    const { existed, kernelName } = this.handles.open(name, 'event', (fresh) => initEvent(this.table.ref(fresh), init.manualReset, init.initialState));
    return { existed, kernelName };
  }

  /** Throws EngineError('object_not_open' | 'object_in_use'). */
  closeEvent(name: string): void {
    this.handles.close(name, 'event');
  }

  /** Throws EngineError('object_not_open'). */
  probeEvent(name: string): EventProbe {
    return readEventProbe(this.eventRef(name));
  }

  /** Throws EngineError('object_not_open'). */
  setEvent(name: string): void {
    setEventEntry(this.eventRef(name));
  }

  /** Throws EngineError('object_not_open'). */
  resetEvent(name: string): void {
    resetEventEntry(this.eventRef(name));
  }

  /**
   * Abandonment on cue, on a dedicated thread (abandon-thread.ts says why not a pool
   * thread). Throws EngineError('shutting_down' | 'mutex_not_open'); a reused work id
   * or a bad timeout throws like submit.
   */
  abandon(spec: AbandonSpec): void {
    this.assertOpen();
    if (this.works.has(spec.workId)) throw new Error(`work id ${spec.workId} is already submitted and not terminal`);
    const asWork: WorkSpec = {
      workId: spec.workId, acquire: { kind: 'mutex', name: spec.mutex }, setEventOnReturn: null,
      acquireTimeoutMs: spec.acquireTimeoutMs, spinMs: 0, holdMs: 0, mayRunLong: false,
    };
    checkWorkTimes(asWork);
    const entry = this.handles.entryOf(spec.mutex, 'mutex');
    const job: Job = { spec: asWork, entry, eventEntry: NO_ENTRY, abandon: true, stage: 'dispatched', thread: undefined, signaledEarly: false, acquired: false };
    let thread: AbandonThread | undefined;
    try {
      thread = new AbandonThread(
        { tableChunks: this.table.buffers(), chunkEntries: this.table.chunkEntries, entry, acquireTimeoutMs: spec.acquireTimeoutMs },
        {
          phase: (phase) => this.onAbandonPhase(job, phase),
          exit: (threadId, error) => {
            if (thread !== undefined) this.abandonThreads.delete(thread);
            this.onAbandonExit(job, threadId, error);
          },
        },
      );
    } catch (error) {
      throw new EngineError('os_error', `emulated engine: the abandon thread could not start: ${String(error)}`, { cause: error });
    }
    job.thread = thread;
    this.abandonThreads.add(thread);
    this.handles.use(entry);
    this.works.set(spec.workId, job);
  }

  /**
   * Throws EngineError('shutting_down' | 'mutex_not_open' | 'object_not_open': the mutex,
   * semaphore or event it names is not open). A reused work id or a time
   * outside 0..MAX_WORK_TIME_MS is a caller bug (the service validates): Error / RangeError.
   */
  submit(spec: WorkSpec): void {
    this.assertOpen();
    if (this.works.has(spec.workId)) throw new Error(`work id ${spec.workId} is already submitted and not terminal`);
    checkWorkTimes(spec);
    const { acquire } = spec;
    const entry = acquire.kind === 'none' ? NO_ENTRY : this.handles.entryOf(acquire.name, acquire.kind);
    const eventEntry = spec.setEventOnReturn === null ? NO_ENTRY : this.handles.entryOf(spec.setEventOnReturn, 'event');
    const job: Job = { spec, entry, eventEntry, abandon: false, stage: 'pending', thread: undefined, signaledEarly: false, acquired: false };
    if (entry !== NO_ENTRY) this.handles.use(entry);
    if (eventEntry !== NO_ENTRY) this.handles.use(eventEntry);
    this.works.set(spec.workId, job);
    this.submitted++;
    this.pool.addPending(job);
  }

  /** Unknown or already terminal work ids are ignored (the service validates ids). */
  signal(workId: string): void {
    const job = this.works.get(workId);
    if (job === undefined) return;
    if (job.thread === undefined) job.signaledEarly = true;
    else job.thread.signal();
  }

  /** Unknown or already terminal work ids are ignored (the service validates ids). */
  cancel(workId: string): void {
    const job = this.works.get(workId);
    if (job === undefined) return;
    if (this.pool.removePending(job)) {
      this.finish(job, { type: 'cancelled', workId, atNs: nowNs() }, 'soon');
      return;
    }
    this.abort([job]);
  }

  poolStats(): PoolStats {
    const counts = this.pool.counts();
    return {
      ...this.pool.currentLimits,
      threads: counts.threads,
      active: counts.running,
      queued: counts.pending + counts.dispatched,
      submitted: this.submitted,
      completed: this.completed,
    };
  }

  /** Applied at once: idle workers above the new maximum exit, pending work gets new workers. */
  setPoolLimits(limits: PoolLimits): void {
    this.pool.setLimits(checkPoolLimits(limits));
  }

  /**
   * Cancel pending works, abort waits, end holds, wait up to timeoutMs for the callbacks
   * to return; workers still running then are terminated (their works fail with
   * thread_died, mutexes they own become abandoned, so none stays held). Every terminal
   * phase is delivered before the returned promise resolves. Idempotent.
   */
  close(options: EngineCloseOptions): Promise<void> {
    this.closing ??= this.shutdown(options.timeoutMs);
    return this.closing;
  }

  /**
   * Test hook, not part of the Engine contract: kill the worker thread running `workId`
   * as if it crashed. Resolves once the death is handled: the work has its `failed`
   * (thread_died) phase, a mutex it owned is abandoned, a replacement worker is spawned
   * if the pool needs one. Throws EngineError('work_unknown') unless the work is
   * dispatched to a worker.
   */
  async crashWorkerOf(workId: string): Promise<void> {
    const job = this.works.get(workId);
    if (job?.thread === undefined) throw new EngineError('work_unknown', `work ${workId} is not running on a worker`);
    await this.pool.crash(job);
  }

  /**
   * Test hook, not part of the Engine contract: from now on openMutex(name) fails the
   * way Windows fails for a mutex this process may not use: `access_denied` (another
   * account's mutex that grants us neither SYNCHRONIZE nor MUTEX_MODIFY_STATE) or
   * `privilege_required` (a new `Global\` object without SeCreateGlobalPrivilege).
   * Names are process-local here, so no other account can make either happen for real.
   */
  refuseOpen(name: string, refusal: OpenRefusal): void {
    this.refusals.set(name, refusal);
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new EngineError('shutting_down', 'the emulated engine is closing');
  }

  /** Abort the waits of dispatched works, and end the holds of those that own their mutex. */
  private abort(jobs: Iterable<Job>): void {
    const running = [...jobs].filter((job) => job.thread !== undefined);
    // Every cancel flag before any signal: a holder ended by its signal releases only
    // after every waiter among these was told to give up, so none of them takes over.
    for (const job of running) {
      job.thread?.cancel();
      // A waiter sleeps on its object's wake word, not on its control words.
      if (job.entry !== NO_ENTRY) wakeWaiters(this.table.ref(job.entry));
    }
    for (const job of running) job.thread?.signal();
  }

  private onWorkerPhase(job: Job, phase: RunPhase): void {
    if (phase.type === 'started') job.stage = 'running';
    if (phase.type === 'acquired') job.acquired = true;
    if (isTerminalPhase(phase)) this.finish(job, phase, 'now');
    else this.route(job, phase);
  }

  private onAbandonPhase(job: Job, unnamed: WorkerPhase): void {
    // Same shape plus the id: the spread of one union member with workId is that member.
    this.onWorkerPhase(job, { ...unnamed, workId: job.spec.workId } as RunPhase);
  }

  /**
   * The abandon thread is gone. If it owned the mutex, the mutex is marked abandoned
   * now, and only then is the work's `abandoned` phase delivered.
   */
  private onAbandonExit(job: Job, threadId: number, error: Error | undefined): void {
    if (this.works.get(job.spec.workId) !== job) return;
    const lastToken = abandonIfOwnedBy(this.table.ref(job.entry), threadId);
    if (lastToken !== undefined && job.acquired) {
      this.finish(job, { type: 'abandoned', workId: job.spec.workId, atNs: nowNs() }, 'now');
      return;
    }
    this.onWorkerDied(job, threadId, error, lastToken);
  }

  private onWorkerDied(job: Job, threadId: number, error: Error | undefined, abandonedToken?: number): void {
    const { workId } = job.spec;
    const lastToken = abandonedToken ?? (job.spec.acquire.kind === 'mutex' ? abandonIfOwnedBy(this.table.ref(job.entry), threadId) : undefined);
    // A semaphore unit it held goes back, so the failed work owns nothing afterwards
    // (FailedPhase); a unit taken but not yet reported is not known here and stays taken.
    if (job.spec.acquire.kind === 'semaphore' && job.acquired) giveUnitBack(this.table.ref(job.entry));
    const message = `worker thread ${threadId} died running work ${workId}` +
      (lastToken === undefined ? '' : `; mutex ${(job.spec.acquire.kind === 'mutex' ? job.spec.acquire.name : '')} is abandoned`);
    this.finish(job, {
      type: 'failed', workId, atNs: nowNs(),
      error: new EngineError('thread_died', message, { cause: error }),
    }, 'now');
    // It may have died between issuing its fencing token and reporting `acquired`; its
    // turn is over either way, so the next holder's phases can go.
    if (lastToken !== undefined) this.handoffs.endTurn(job.entry, lastToken);
  }

  private onUnrunnable(jobs: readonly Job[], error: Error | undefined): void {
    for (const job of jobs) {
      const { workId } = job.spec;
      this.finish(job, {
        type: 'failed', workId, atNs: nowNs(),
        error: new EngineError('thread_died', `no worker thread could be started for work ${workId}`, { cause: error }),
      }, 'now');
    }
  }

  /** The one way a work ends: bookkeeping first, then its terminal phase. */
  private finish(job: Job, phase: TerminalPhase, when: 'now' | 'soon'): void {
    if (this.works.get(job.spec.workId) !== job) return;
    this.works.delete(job.spec.workId);
    if (job.entry !== NO_ENTRY) this.handles.unuse(job.entry);
    if (job.eventEntry !== NO_ENTRY) this.handles.unuse(job.eventEntry);
    // Abandon works are not pool work: the pool's counters leave them out.
    if (!job.abandon) this.completed++;
    // A pending work never owned anything: no handoff to order it behind.
    if (when === 'now') this.route(job, phase);
    else this.sink.deliverSoon(phase);
    if (this.works.size === 0) this.onDrained?.();
  }

  /** A phase of a work on its way out: through the handoff order of its object, if it has one. */
  private route(job: Job, phase: Phase): void {
    if (job.entry === NO_ENTRY) this.sink.deliver(phase);
    else this.handoffs.push(job.entry, phase);
  }

  private eventRef(name: string): EntryRef {
    return this.table.ref(this.handles.entryOf(name, 'event'));
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    const atNs = nowNs();
    for (const job of this.pool.takePending()) this.finish(job, { type: 'cancelled', workId: job.spec.workId, atNs }, 'soon');
    this.abort(this.works.values());
    await this.drained(timeoutMs);
    await Promise.all([...this.abandonThreads].map((thread) => thread.terminate()));
    await this.pool.shutdown();
    // Every worker is gone, so every turn has ended; nothing should be held, but a phase
    // must never be lost.
    this.handoffs.flush();
    await this.sink.flush();
    this.handles.closeAll();
  }

  /** Resolves when no work is left, or after timeoutMs. */
  private drained(timeoutMs: number): Promise<void> {
    if (this.works.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onDrained = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.onDrained = done;
    });
  }
}

/** The error openMutex gives for a refused name, worded like the win32 engine's. */
function refusedOpen(name: string, refusal: OpenRefusal): EngineError {
  return refusal === 'access_denied'
    ? new EngineError('access_denied', `mutex ${name} exists and denies this process SYNCHRONIZE | MUTEX_MODIFY_STATE access (created by another account or a service)`)
    : new EngineError('privilege_required', `creating ${name} needs SeCreateGlobalPrivilege, which this process does not have (only session 0 services and administrators have it by default)`);
}

/** Give back the unit of a worker that died holding it; a full semaphore (the unit was already back) stays as it is. */
function giveUnitBack(entry: EntryRef): void {
  try {
    releaseUnit(entry);
  } catch {
    // Already at its maximum: the epilog had released the unit before the thread died.
  }
}
