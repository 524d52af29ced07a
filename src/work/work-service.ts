/**
 * The work service: turns requests into engine work, engine phases into state and
 * events, and keeps the invariants that belong to the service:
 *  - per mutex, `released(prev)` is published before `acquired(next)`, both as the
 *    engine reported them: the service reorders, it never makes a phase up;
 *  - an engine history that breaks mutual exclusion is reported, never smoothed over;
 *  - every work gets exactly one terminal event;
 *  - bad input and exceeded limits change nothing.
 */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { EngineError } from '../engine/errors.js';
import { isTerminalPhase, type Engine, type Phase } from '../engine/types.js';
import type { EventLog } from '../events/event-log.js';
import { conflict, HttpProblem, limitExceeded, notFound, unavailable, validationProblem, type ValidationIssue } from '../http/problem.js';
import { MutexRegistry, type MutexRecord } from '../mutex/registry.js';
import type { WorkEventType } from '../schemas/events.js';
import type { WorkRequestBody, WorkState, WorkView } from '../schemas/work.js';
import { fingerprint, IdempotencyKeys } from './idempotency.js';
import { applyPhase, isTerminal, toWorkView, type InvariantViolation, type ResolvedRequest, type WorkRecord } from './work-record.js';
import { decodeCursor, encodeCursor, WorkIds } from './work-ids.js';

export type WorkLimits = Pick<Config['limits'],
  'maxQueuedWork' | 'maxQueuedWorkPerMutex' | 'maxAcquireTimeoutMs' | 'maxHoldMs' | 'maxSpinMs' | 'maxLabelLength'>;

export interface WorkServiceOptions {
  engine: Engine;
  events: EventLog;
  mutexes: MutexRegistry;
  clock: Clock;
  limits: WorkLimits;
  workHistory: number;
  /** Called for every work transition (logging, metrics). */
  onTransition?: (work: WorkRecord, type: WorkEventType) => void;
  /** Called when the engine's phases break mutual exclusion (logged as an error, counted). */
  onInvariantViolation?: (work: WorkRecord, violation: InvariantViolation) => void;
}

export interface SubmitResult { work: WorkView; replayed: boolean }

export interface WorkFilter { states?: ReadonlySet<WorkState>; mutex?: string; label?: string }

const DEFAULTS = { acquireTimeoutMs: 30_000, holdMs: 0, untilSignaled: false, spinMs: 0, mayRunLong: false } as const;

export class WorkService {
  private readonly works = new Map<string, WorkRecord>();
  /** Finished works in the order they finished: the eviction queue. */
  private readonly finished: WorkRecord[] = [];
  private finishedHead = 0;
  private readonly ids: WorkIds;
  private readonly idempotency = new IdempotencyKeys();
  private readonly terminalWaiters = new Map<string, Set<() => void>>();
  private unfinished = 0;
  private draining = false;
  private readonly engine: Engine;
  private readonly events: EventLog;
  private readonly mutexes: MutexRegistry;
  private readonly clock: Clock;
  private readonly limits: WorkLimits;
  private readonly workHistory: number;
  private readonly onTransition: ((work: WorkRecord, type: WorkEventType) => void) | undefined;
  private readonly onInvariantViolation: ((work: WorkRecord, violation: InvariantViolation) => void) | undefined;
  /**
   * Works whose `acquired` arrived before the previous holder's `released`: that phase
   * and every later one of the work, in order, until the release arrives. By work id.
   */
  private readonly heldBack = new Map<string, Phase[]>();
  /**
   * Per mutex name, the held-back works in acquisition order. Usually one; more when a
   * release is reported late enough for the next owners to come and go meanwhile.
   */
  private readonly handoffQueues = new Map<string, string[]>();

  constructor(options: WorkServiceOptions) {
    this.engine = options.engine;
    this.events = options.events;
    this.mutexes = options.mutexes;
    this.clock = options.clock;
    this.limits = options.limits;
    this.workHistory = options.workHistory;
    this.onTransition = options.onTransition;
    this.onInvariantViolation = options.onInvariantViolation;
    this.ids = new WorkIds(options.events.boot);
    this.engine.onPhase((phase) => this.onPhase(phase));
  }

  get unfinishedCount(): number { return this.unfinished; }
  get retainedCount(): number { return this.works.size; }
  get isDraining(): boolean { return this.draining; }
  /** Works whose `acquired` waits for the previous holder's `released`. */
  get heldBackCount(): number { return this.heldBack.size; }

  countByState(): Record<WorkState, number> {
    const counts: Record<WorkState, number> = { queued: 0, waiting: 0, holding: 0, released: 0, timed_out: 0, cancelled: 0, failed: 0 };
    for (const work of this.works.values()) counts[work.state]++;
    return counts;
  }

  /** Validates against the configured bounds and fills defaults; throws one 400 listing every bad field. */
  resolve(body: WorkRequestBody): ResolvedRequest {
    const issues: ValidationIssue[] = [];
    const bound = (field: 'acquireTimeoutMs' | 'holdMs' | 'spinMs', max: number, limit: string) => {
      const value = body[field] ?? DEFAULTS[field];
      if (value > max) issues.push({ field: `body/${field}`, message: `must be <= ${max} (${limit})` });
      return value;
    };
    const acquireTimeoutMs = bound('acquireTimeoutMs', this.limits.maxAcquireTimeoutMs, 'MAX_ACQUIRE_TIMEOUT_MS');
    const holdMs = bound('holdMs', this.limits.maxHoldMs, 'MAX_HOLD_MS');
    const spinMs = bound('spinMs', this.limits.maxSpinMs, 'MAX_SPIN_MS');
    const label = body.label ?? null;
    if (label !== null && label.length > this.limits.maxLabelLength) {
      issues.push({ field: 'body/label', message: `must be at most ${this.limits.maxLabelLength} characters (MAX_LABEL_LENGTH)` });
    }
    let mutex = '';
    try {
      mutex = MutexRegistry.normalise(body.mutex, 'body/mutex');
    } catch (err) {
      if (err instanceof HttpProblem && err.extra.errors) issues.push(...err.extra.errors);
      else throw err;
    }
    if (issues.length > 0) throw validationProblem(issues);
    return {
      mutex,
      acquireTimeoutMs,
      holdMs,
      untilSignaled: body.untilSignaled ?? DEFAULTS.untilSignaled,
      spinMs,
      mayRunLong: body.mayRunLong ?? DEFAULTS.mayRunLong,
      label,
    };
  }

  submit(body: WorkRequestBody, idempotencyKey: string | undefined): SubmitResult {
    if (this.draining) throw unavailable('shutting-down', 'the service is shutting down and accepts no new work');
    const request = this.resolve(body);
    // Only a keyed request needs its fingerprint.
    const print = idempotencyKey === undefined ? '' : fingerprint({ ...request });
    if (idempotencyKey !== undefined) {
      const seen = this.idempotency.lookup(idempotencyKey, print);
      if (seen.kind === 'replay') return { work: this.view(this.require(seen.workId)), replayed: true };
      if (seen.kind === 'mismatch') {
        throw new HttpProblem(422, 'idempotency-key-reused', 'Idempotency key reused',
          `Idempotency-Key ${JSON.stringify(idempotencyKey)} was used for work ${seen.workId} with a different request`);
      }
    }
    if (this.unfinished >= this.limits.maxQueuedWork) {
      throw limitExceeded('MAX_QUEUED_WORK', `${this.unfinished} works are unfinished (limit ${this.limits.maxQueuedWork}); retry when some finish`, 1);
    }
    const known = this.mutexes.get(request.mutex);
    if (known && known.unfinished >= this.limits.maxQueuedWorkPerMutex) {
      throw limitExceeded('MAX_QUEUED_WORK_PER_MUTEX', `mutex ${JSON.stringify(request.mutex)} has ${known.unfinished} unfinished works (limit ${this.limits.maxQueuedWorkPerMutex})`, 1);
    }
    const mutex = known ?? this.mutexes.open(request.mutex).record;
    // Another spelling of an open mutex (an alias) is that mutex: its name from here on.
    const resolved = mutex.name === request.mutex ? request : { ...request, mutex: mutex.name };

    const { seq, id } = this.ids.next();
    const work: WorkRecord = {
      seq, id, request: resolved, idempotencyKey: idempotencyKey ?? null, state: 'queued',
      fencingToken: null, abandoned: null, threadId: null, mayRunLong: null, signaled: false, cancelRequested: false,
      queuedNs: this.clock.nowNs(), startedNs: null, acquiredNs: null, returnedNs: null, releasedNs: null, endedNs: null,
      error: null, invariantViolation: null,
    };
    // The engine reports phases asynchronously, so submitting before publishing
    // `work.queued` cannot reorder events, and a refused submit leaves no trace.
    this.engine.submit({
      workId: id,
      mutex: resolved.mutex,
      acquireTimeoutMs: request.acquireTimeoutMs,
      spinMs: request.spinMs,
      holdMs: request.untilSignaled && request.holdMs === 0 ? this.limits.maxHoldMs : request.holdMs,
      mayRunLong: request.mayRunLong,
    });
    this.works.set(id, work);
    if (idempotencyKey !== undefined) this.idempotency.remember(idempotencyKey, print, id);
    this.unfinished++;
    mutex.unfinished++;
    mutex.queued++;
    this.publish(work, 'work.queued');
    return { work: this.view(work), replayed: false };
  }

  get(id: string): WorkView { return this.view(this.require(id)); }

  require(id: string): WorkRecord {
    const work = this.works.get(id);
    if (work) return work;
    if (this.ids.seqOf(id) !== null) {
      throw new HttpProblem(404, 'work-evicted', 'Work evicted',
        `work ${id} finished and was evicted from the history (WORK_HISTORY keeps the last ${this.workHistory} finished works)`);
    }
    throw notFound('work-not-found', `no work with id ${JSON.stringify(id)} was submitted to this server process`);
  }

  list(filter: WorkFilter, limit: number, cursor: string | undefined): { items: WorkView[]; nextCursor: string | null } {
    const after = decodeCursor(cursor, this.ids.lastIssued);
    if (after === null) throw validationProblem([{ field: 'query/cursor', message: 'is not a cursor this service issued' }]);
    const items: WorkView[] = [];
    let lastSeq = 0;
    let more = false;
    for (const work of this.works.values()) {
      if (work.seq <= after) continue;
      if (filter.states && !filter.states.has(work.state)) continue;
      if (filter.mutex !== undefined && work.request.mutex !== this.mutexes.canonical(filter.mutex)) continue;
      if (filter.label !== undefined && work.request.label !== filter.label) continue;
      if (items.length === limit) { more = true; break; }
      items.push(this.view(work));
      lastSeq = work.seq;
    }
    return { items, nextCursor: more ? encodeCursor(lastSeq) : null };
  }

  /** Ends the hold (or, before acquiring, makes the hold end at once). */
  signal(id: string): WorkView {
    const work = this.requireUnfinished(id, 'signal');
    this.engine.signal(id);
    return this.view(work);
  }

  cancel(id: string): WorkView {
    const work = this.requireUnfinished(id, 'cancel');
    work.cancelRequested = true;
    this.engine.cancel(id);
    return this.view(work);
  }

  /** Resolves when the work is terminal, or after timeoutMs, or when aborted. */
  async waitTerminal(id: string, timeoutMs: number, abort?: AbortSignal): Promise<WorkView> {
    const work = this.require(id);
    if (!isTerminal(work) && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const waiters = this.terminalWaiters.get(id) ?? new Set<() => void>();
        this.terminalWaiters.set(id, waiters);
        const done = () => {
          clearTimeout(timer);
          abort?.removeEventListener('abort', done);
          waiters.delete(done);
          if (waiters.size === 0) this.terminalWaiters.delete(id);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        abort?.addEventListener('abort', done, { once: true });
        waiters.add(done);
      });
    }
    return this.view(work);
  }

  /**
   * Shutdown (docs/design.md §4.5): refuse new work, let the engine cancel what has not
   * started, abort waits, end holds and wait for callbacks; every work gets its
   * terminal event before this resolves.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    this.draining = true;
    await this.engine.close({ timeoutMs });
    // An engine that broke its contract must still not leave a work without an end.
    for (const work of this.works.values()) {
      if (!isTerminal(work)) {
        this.onPhase({ type: 'failed', workId: work.id, atNs: this.clock.nowNs(), error: new EngineError('shutting_down', 'the engine closed without finishing this work') });
      }
    }
  }

  view(work: WorkRecord): WorkView { return toWorkView(work, this.clock, this.events.boot); }

  private requireUnfinished(id: string, action: string): WorkRecord {
    const work = this.require(id);
    if (isTerminal(work)) throw conflict('work-finished', `cannot ${action} work ${id}: it is already ${work.state}`);
    return work;
  }

  private onPhase(phase: Phase): void {
    const work = this.works.get(phase.workId);
    if (!work) return;
    const heldBack = this.heldBack.get(work.id);
    if (heldBack) { heldBack.push(phase); return; }
    const mutex = this.mutexes.get(work.request.mutex);
    if (!mutex) return;
    if (phase.type === 'acquired' && this.holdBackAcquired(mutex, work, phase)) return;
    this.apply(mutex, work, phase);
  }

  private apply(mutex: MutexRecord, work: WorkRecord, phase: Phase): void {
    const before = work.state;
    // Phases of one work come in their own order (engine contract); one that does not
    // fit the state is dropped rather than allowed to move the work backwards.
    if (!applyPhase(work, phase)) return;
    if (phase.type === 'acquired') this.checkHandoffStamps(mutex, work);
    if (phase.type === 'released') mutex.lastRelease = { workId: work.id, atNs: phase.atNs };
    this.account(mutex, work, before);
    this.publish(work, `work.${phase.type}`);
    if (before === 'holding' && isTerminal(work)) this.passHeldBack(mutex);
  }

  /**
   * The next owner's `acquired` can arrive before the previous holder's `released`
   * (the next waiter wakes as soon as the mutex is free, the release is reported by
   * another thread). Clients must see `released(prev)` first, so `acquired(next)` and
   * whatever follows it wait for the engine's own `released(prev)`. True when held back.
   *
   * If the previous owner has not even returned, the mutex was never released: the
   * engine broke mutual exclusion. That is reported, and `acquired(next)` goes out as
   * it came, carrying the fact.
   */
  private holdBackAcquired(mutex: MutexRecord, next: WorkRecord, phase: Phase): boolean {
    const queue = this.handoffQueues.get(mutex.name);
    const last = queue?.at(-1);
    let previousId: string;
    if (queue !== undefined && last !== undefined) {
      // Behind another held-back owner: it must have returned already.
      previousId = last;
      const returned = (this.heldBack.get(last) ?? []).some((p) => p.type === 'returned' || isTerminalPhase(p));
      if (returned) {
        queue.push(next.id);
        this.heldBack.set(next.id, [phase]);
        return true;
      }
    } else {
      const holder = mutex.holder;
      if (!holder || holder.workId === next.id) return false;
      const previous = this.works.get(holder.workId);
      if (!previous || previous.state !== 'holding') return false;
      previousId = previous.id;
      if (previous.returnedNs !== null) {
        this.handoffQueues.set(mutex.name, [next.id]);
        this.heldBack.set(next.id, [phase]);
        return true;
      }
    }
    this.violate(next, {
      kind: 'acquired_while_held', previousWorkId: previousId,
      detail: `work ${next.id} acquired ${mutex.name} (at ${phase.atNs} ns) while work ${previousId} owned it and had not returned`,
    });
    return false;
  }

  /**
   * Engine contract: a `released` stamp is no later than the next acquisition of the
   * same mutex, so the [acquired, released] intervals never overlap on the engine clock.
   */
  private checkHandoffStamps(mutex: MutexRecord, next: WorkRecord): void {
    const last = mutex.lastRelease;
    if (last === null || next.acquiredNs === null || next.acquiredNs >= last.atNs) return;
    this.violate(next, {
      kind: 'released_after_acquired', previousWorkId: last.workId,
      detail: `work ${next.id} acquired ${mutex.name} at ${next.acquiredNs} ns, before work ${last.workId}'s release at ${last.atNs} ns`,
    });
  }

  /** The holder of `mutex` ended: the first held-back owner's phases go out now. */
  private passHeldBack(mutex: MutexRecord): void {
    const queue = this.handoffQueues.get(mutex.name);
    const nextId = queue?.shift();
    if (queue === undefined || nextId === undefined) return;
    if (queue.length === 0) this.handoffQueues.delete(mutex.name);
    const phases = this.heldBack.get(nextId) ?? [];
    this.heldBack.delete(nextId);
    const next = this.works.get(nextId);
    // Applied as they are: this work's turn has come, whatever else is still queued.
    if (next !== undefined) for (const phase of phases) this.apply(mutex, next, phase);
  }

  private violate(work: WorkRecord, violation: InvariantViolation): void {
    work.invariantViolation = violation;
    this.onInvariantViolation?.(work, violation);
  }

  /** Keeps the mutex's counters and the service totals in step with one transition. */
  private account(mutex: MutexRecord, work: WorkRecord, before: WorkState): void {
    const after = work.state;
    if (before === after) return;
    if (before === 'queued') mutex.queued--;
    if (before === 'waiting') mutex.waiting--;
    if (before === 'holding' && mutex.holder?.workId === work.id) mutex.holder = null;
    if (after === 'waiting') mutex.waiting++;
    if (after === 'holding') {
      mutex.holder = { workId: work.id, threadId: work.threadId ?? 0, sinceNs: work.acquiredNs! };
      mutex.acquisitions++;
      if (work.abandoned) mutex.abandonedAcquisitions++;
      if (work.fencingToken !== null && work.fencingToken > mutex.fencingToken) mutex.fencingToken = work.fencingToken;
    }
    if (after === 'timed_out') mutex.timeouts++;
    if (isTerminal(work)) this.finish(mutex, work);
  }

  private finish(mutex: MutexRecord, work: WorkRecord): void {
    this.unfinished--;
    mutex.unfinished--;
    this.finished.push(work);
    this.evictBeyondHistory();
    const waiters = this.terminalWaiters.get(work.id);
    // Waiters resolve after the terminal event is published (publish runs right after).
    if (waiters) queueMicrotask(() => { for (const done of [...waiters]) done(); });
  }

  private evictBeyondHistory(): void {
    while (this.finished.length - this.finishedHead > this.workHistory) {
      const oldest = this.finished[this.finishedHead]!;
      this.finished[this.finishedHead++] = undefined as unknown as WorkRecord; // drop the reference
      this.works.delete(oldest.id);
      if (oldest.idempotencyKey !== null) this.idempotency.forget(oldest.idempotencyKey);
    }
    // Compact the queue now and then instead of shifting on every eviction.
    if (this.finishedHead > 1024 && this.finishedHead * 2 > this.finished.length) {
      this.finished.splice(0, this.finishedHead);
      this.finishedHead = 0;
    }
  }

  private publish(work: WorkRecord, type: WorkEventType): void {
    // Rendered only if someone reads the event: a snapshot of the record (its fields are
    // scalars or never mutated) and the time, turned into JSON later.
    const atNs = this.clock.nowNs();
    const snapshot: WorkRecord = { ...work };
    this.events.publish(type, () => this.clock.iso(atNs), () => ({ work: this.view(snapshot) }), { mutex: work.request.mutex, workId: work.id });
    this.onTransition?.(work, type);
  }
}
