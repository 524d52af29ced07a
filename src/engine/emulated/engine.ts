/**
 * The emulated engine: the win32 engine's semantics with real threads and no Windows.
 *
 * - Callbacks run on a pool of worker_threads (see pool.ts) that grows while callbacks
 *   block, like the Windows pool.
 * - Mutexes live in a SharedArrayBuffer table (mutex-table.ts); a callback waits for
 *   its mutex on its own thread with Atomics.wait and the real timeout, owns it under
 *   its thread id, and its epilog releases it after the body returns (callback.ts).
 * - A worker that dies owning a mutex leaves it abandoned; the next acquirer is told.
 * - Mutex names are process-local: nothing outside this engine instance sees them. Each
 *   name still gets the kernel name Windows would give it in the configured session
 *   (option `session`, default 1), and names with the same kernel name are one mutex.
 * - The main thread never blocks: it only reads, stores and notifies shared words.
 */
import { mutexOnly, unsupported } from '../unsupported.js';
import type { AbandonSpec, EventInit, EventOpened, EventProbe, SemaphoreInit, SemaphoreOpened, SemaphoreProbe } from '../types.js';
import { EngineError, type EngineErrorCode } from '../errors.js';
import { checkMutexName } from '../mutex-name.js';
import {
  isTerminalPhase, type Engine, type EngineCloseOptions, type EngineInfo, type EngineOptions, type MutexOpened,
  type MutexProbe, type Ns, type PhaseListener, type PoolLimits, type PoolStats, type TerminalPhase, type WorkSpec,
} from '../types.js';
import { checkWorkTimes } from '../work-times.js';
import { nowNs } from './clock.js';
import { MutexHandles } from './mutex-handles.js';
import { HandoffOrder } from '../handoff-order.js';
import { abandonIfOwnedBy, chunkBytes, lastFencingToken, readProbe, wakeWaiters } from './mutex-entry.js';
import { MutexTable } from './mutex-table.js';
import { PhaseSink } from './phase-sink.js';
import { checkPoolLimits } from '../pool-limits.js';
import { WorkerPool } from './pool.js';
import type { RunPhase } from './protocol.js';
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
const DEFAULT_TABLE_CHUNK_SLOTS = 1024;

export class EmulatedEngine implements Engine {
  readonly info: EngineInfo;
  private readonly table: MutexTable;
  private readonly handles: MutexHandles;
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
    this.handles = new MutexHandles(this.table, options.session ?? 1);
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
    const { existed, kernelName, entry, lastToken } = this.handles.open(name);
    if (!existed) this.handoffs.newMutex(entry, lastToken);
    return { existed, kernelName };
  }

  /**
   * Forget the name. The service guarantees no work uses it; if one still does, its entry
   * stays valid until that work ends. Throws EngineError('mutex_not_open').
   */
  closeMutex(name: string): void {
    this.handles.close(name);
  }

  /** Throws EngineError('mutex_not_open'). */
  probeMutex(name: string): MutexProbe {
    return readProbe(this.table.ref(this.handles.entryOf(name)));
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

  /**
   * Throws EngineError('shutting_down' | 'mutex_not_open'). A reused work id or a time
   * outside 0..MAX_WORK_TIME_MS is a caller bug (the service validates): Error / RangeError.
   */
  submit(spec: WorkSpec): void {
    this.assertOpen();
    if (this.works.has(spec.workId)) throw new Error(`work id ${spec.workId} is already submitted and not terminal`);
    checkWorkTimes(spec);
    const entry = this.handles.entryOf(mutexOnly(spec));
    const job: Job = { spec, entry, stage: 'pending', thread: undefined, signaledEarly: false };
    this.handles.use(entry);
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
      // A waiter sleeps on its mutex's wake word, not on its control words.
      wakeWaiters(this.table.ref(job.entry));
    }
    for (const job of running) job.thread?.signal();
  }

  private onWorkerPhase(job: Job, phase: RunPhase): void {
    if (phase.type === 'started') job.stage = 'running';
    if (isTerminalPhase(phase)) this.finish(job, phase, 'now');
    else this.handoffs.push(job.entry, phase);
  }

  private onWorkerDied(job: Job, threadId: number, error: Error | undefined): void {
    const { workId } = job.spec;
    const lastToken = abandonIfOwnedBy(this.table.ref(job.entry), threadId);
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
    this.handles.unuse(job.entry);
    this.completed++;
    // A pending work never owned anything: no handoff to order it behind.
    if (when === 'now') this.handoffs.push(job.entry, phase);
    else this.sink.deliverSoon(phase);
    if (this.works.size === 0) this.onDrained?.();
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    const atNs = nowNs();
    for (const job of this.pool.takePending()) this.finish(job, { type: 'cancelled', workId: job.spec.workId, atNs }, 'soon');
    this.abort(this.works.values());
    await this.drained(timeoutMs);
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
