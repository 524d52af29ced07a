/**
 * The thread pool: worker threads between minThreads and maxThreads and the FIFO
 * of pending works (not yet dispatched). It behaves like the Windows pool the win32 engine uses:
 * a callback occupies its thread for as long as it waits or holds, so when work is
 * queued and no thread is idle the pool grows (up to maxThreads); at the maximum, work
 * stays queued until a thread frees. Idle threads above minThreads retire after a while,
 * and at once when maxThreads is lowered.
 */
import { isTerminalPhase, type PoolLimits } from '../types.js';
import type { MutexTable } from './mutex-table.js';
import { PoolWorker } from './pool-worker.js';
import { POOL_BUSY, POOL_MAX, POOL_STATE_WORDS, POOL_THREADS, type RunPhase, type WorkerPhase, type WorkerToMain } from './protocol.js';
import type { Job } from './job.js';

/** What the pool tells its owner (the engine). */
export interface PoolHooks {
  /** A worker reported a phase of the work dispatched to it. */
  phase(job: Job, phase: RunPhase): void;
  /** The worker a work was dispatched to is gone before the work's terminal phase. */
  workerDied(job: Job, threadId: number, error: Error | undefined): void;
  /** No worker can be started to run these queued works; they are out of the FIFO. */
  unrunnable(jobs: readonly Job[], error: Error | undefined): void;
}

export interface PoolOptions {
  /** How long an idle thread above minThreads lives. */
  readonly idleRetireMs: number;
}

export interface PoolCounts {
  readonly threads: number;
  /** Dispatched, callback not started yet. */
  readonly dispatched: number;
  /** Callbacks running. */
  readonly running: number;
  /** In the FIFO, not dispatched. */
  readonly pending: number;
}

export class WorkerPool {
  private limits: PoolLimits;
  private readonly workers = new Set<PoolWorker>();
  /** Insertion-ordered, so it is a FIFO with O(1) removal for cancel. */
  private readonly pending = new Set<Job>();
  /** Threads/busy/max for callbacks asking CallbackMayRunLong. */
  private readonly poolState = new Int32Array(new SharedArrayBuffer(POOL_STATE_WORDS * Int32Array.BYTES_PER_ELEMENT));
  /** Cleared by shutdown: from then on nothing is spawned or dispatched. */
  private open = true;

  constructor(limits: PoolLimits, private readonly table: MutexTable, private readonly hooks: PoolHooks, private readonly options: PoolOptions) {
    this.limits = limits;
  }

  /** Spawn minThreads workers and wait until they are ready; rejects if one cannot start. */
  async start(): Promise<void> {
    this.adjust();
    await Promise.all([...this.workers].map((worker) => worker.ready));
  }

  get currentLimits(): PoolLimits {
    return this.limits;
  }

  setLimits(limits: PoolLimits): void {
    this.limits = limits;
    this.adjust();
  }

  addPending(job: Job): void {
    this.pending.add(job);
    this.adjust();
  }

  /** Take a work out of the FIFO before it was dispatched; false if it was not pending. */
  removePending(job: Job): boolean {
    return this.pending.delete(job);
  }

  /** Empty the FIFO (shutdown) and return what was in it. */
  takePending(): Job[] {
    const jobs = [...this.pending];
    this.pending.clear();
    return jobs;
  }

  /** Hand the table's new chunk to every worker, before any order that uses it. */
  shareTableChunk(index: number, buffer: SharedArrayBuffer): void {
    for (const worker of this.workers) worker.post({ type: 'table-chunk', index, buffer });
  }

  counts(): PoolCounts {
    let dispatched = 0;
    let running = 0;
    for (const worker of this.workers) {
      if (worker.work?.stage === 'dispatched') dispatched++;
      else if (worker.work?.stage === 'running') running++;
    }
    return { threads: this.liveCount(), dispatched, running, pending: this.pending.size };
  }

  /** Kill the worker running a work as if it crashed (test hook); resolves once its death is handled. */
  crash(job: Job): Promise<void> {
    for (const worker of this.workers) if (worker.work === job) return worker.terminate(true);
    return Promise.resolve();
  }

  /** Stop spawning and dispatching, terminate every worker, resolve when all are gone. */
  async shutdown(): Promise<void> {
    this.open = false;
    const workers = [...this.workers];
    for (const worker of workers) this.clearIdleTimer(worker);
    await Promise.all(workers.map((worker) => worker.terminate(worker.work !== undefined)));
  }

  private spawn(): PoolWorker {
    const worker = new PoolWorker(
      { poolState: this.poolState.buffer as SharedArrayBuffer, tableChunks: this.table.buffers(), chunkEntries: this.table.chunkEntries },
      { message: (w, message) => this.onMessage(w, message), exit: (w, error) => this.onExit(w, error) },
    );
    this.workers.add(worker);
    return worker;
  }

  private onMessage(worker: PoolWorker, message: WorkerToMain): void {
    if (message.type === 'ready') {
      if (worker.stage === 'starting') worker.stage = 'idle';
      this.adjust();
      return;
    }
    // Phases of an order this worker no longer runs cannot happen; drop them defensively.
    if (message.order !== worker.orders) return;
    for (const phase of message.phases) this.onPhase(worker, phase);
  }

  private onPhase(worker: PoolWorker, unnamed: WorkerPhase): void {
    const job = worker.work;
    if (job === undefined) return;
    // Same shape plus the id: the spread of one union member with workId is that member.
    const phase = { ...unnamed, workId: job.spec.workId } as RunPhase;
    const terminal = isTerminalPhase(phase);
    if (terminal) {
      worker.work = undefined;
      worker.stage = 'idle';
    }
    // The engine settles the work before the worker is given the next one.
    this.hooks.phase(job, phase);
    if (terminal) this.adjust();
  }

  private onExit(worker: PoolWorker, error: Error | undefined): void {
    const job = worker.work;
    const diedStarting = worker.stage === 'starting';
    worker.work = undefined;
    this.clearIdleTimer(worker);
    this.workers.delete(worker);
    this.publishState();
    if (job !== undefined) this.hooks.workerDied(job, worker.threadId, error);
    if (diedStarting) {
      // A worker that cannot even start would fail again if respawned at once; the next
      // submit or limit change tries again. If no other worker can run the pending works, they
      // fail rather than wait forever.
      if (this.open && !this.hasUsableWorker() && this.pending.size > 0) this.hooks.unrunnable(this.takePending(), error);
      return;
    }
    this.adjust();
  }

  private hasUsableWorker(): boolean {
    for (const worker of this.workers) if (worker.stage !== 'retiring') return true;
    return false;
  }

  /** Bring the pool in line with the pending works and the limits: dispatch, grow, shrink. */
  private adjust(): void {
    if (!this.open) return;
    for (const worker of this.workers) {
      if (this.pending.size === 0) break;
      if (worker.stage === 'idle') this.dispatch(worker, this.nextPending());
    }
    let live = this.liveCount();
    let starting = this.countStage('starting');
    // Grow for queued work that the starting workers will not absorb.
    while (this.pending.size > starting && live < this.limits.maxThreads) {
      this.spawn();
      starting++;
      live++;
    }
    while (live < this.limits.minThreads) {
      this.spawn();
      live++;
    }
    for (const worker of this.workers) {
      if (worker.stage !== 'idle') continue;
      if (live > this.limits.maxThreads) {
        this.retire(worker);
        live--;
      } else if (live > this.limits.minThreads) {
        this.scheduleIdleRetire(worker);
      } else {
        this.clearIdleTimer(worker);
      }
    }
    this.publishState();
  }

  private nextPending(): Job {
    const [first] = this.pending;
    if (first === undefined) throw new Error('nextPending on an empty FIFO');
    this.pending.delete(first);
    return first;
  }

  private dispatch(worker: PoolWorker, job: Job): void {
    this.clearIdleTimer(worker);
    worker.stage = 'busy';
    worker.work = job;
    job.stage = 'dispatched';
    job.thread = worker;
    // The callback may ask CallbackMayRunLong as soon as it starts; it must see itself busy.
    this.publishState();
    worker.run(job);
  }

  private retire(worker: PoolWorker): void {
    this.clearIdleTimer(worker);
    worker.stage = 'retiring';
    void worker.terminate();
  }

  private scheduleIdleRetire(worker: PoolWorker): void {
    if (worker.idleTimer !== undefined) return;
    worker.idleTimer = setTimeout(() => {
      worker.idleTimer = undefined;
      if (worker.stage === 'idle' && this.liveCount() > this.limits.minThreads) {
        this.retire(worker);
        this.publishState();
      }
    }, this.options.idleRetireMs);
    // An idle thread waiting to retire is no reason to keep the process alive.
    worker.idleTimer.unref();
  }

  private clearIdleTimer(worker: PoolWorker): void {
    if (worker.idleTimer === undefined) return;
    clearTimeout(worker.idleTimer);
    worker.idleTimer = undefined;
  }

  /** Workers that count against the limits: all but the retiring ones. */
  private liveCount(): number {
    let live = 0;
    for (const worker of this.workers) if (worker.stage !== 'retiring') live++;
    return live;
  }

  private countStage(stage: PoolWorker['stage']): number {
    let count = 0;
    for (const worker of this.workers) if (worker.stage === stage) count++;
    return count;
  }

  private publishState(): void {
    Atomics.store(this.poolState, POOL_THREADS, this.liveCount());
    Atomics.store(this.poolState, POOL_BUSY, this.countStage('busy'));
    Atomics.store(this.poolState, POOL_MAX, this.limits.maxThreads);
  }
}
