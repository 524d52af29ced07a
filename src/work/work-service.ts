/**
 * The work service: turns requests into engine work, engine phases into state and
 * events, and keeps the invariants that belong to the service:
 *  - phases are published in the order the engine delivers them; the engine already
 *    puts `released(prev)` before `acquired(next)` (docs/design.md §1.4), so the service
 *    reorders nothing and makes nothing up;
 *  - an engine history that breaks mutual exclusion is reported, never smoothed over
 *    (invariants.ts);
 *  - every work gets exactly one terminal event;
 *  - bad input and exceeded limits change nothing (work-request.ts, work-limits.ts).
 */
import type { Clock } from '../clock.js';
import { EngineError } from '../engine/errors.js';
import type { Engine, Phase, WorkSpec } from '../engine/types.js';
import type { EventObjectRegistry } from '../event-object/registry.js';
import type { EventLog } from '../events/event-log.js';
import type { MutexRecord, MutexRegistry } from '../mutex/registry.js';
import type { SemaphoreRegistry } from '../semaphore/registry.js';
import type { WorkEventType } from '../schemas/events.js';
import { isTerminal, type AbandonRequestBody, type WorkRequestBody, type WorkState, type WorkView } from '../schemas/work.js';
import { invalid, ServiceError } from '../service-error.js';
import { fingerprint, IdempotencyKeys } from './idempotency.js';
import { InvariantChecks, type ViolationListener } from './invariants.js';
import { Leases } from './leases.js';
import { countSetterEnded, countSubmitted, countTransition, MUTEX_HOLDER, SEMAPHORE_HOLDERS } from './object-accounting.js';
import { TerminalWaiters } from './terminal-waiters.js';
import { decodeCursor, encodeCursor } from '../list-cursor.js';
import { WorkIds } from './work-ids.js';
import { checkAdmission, type AdmissionLimits } from './work-limits.js';
import { WorkHistory } from './work-history.js';
import { applyPhase, toWorkView, type WorkRecord } from './work-record.js';
import { leaseIssues, objectNameOf, resolveAbandon, resolveRequest, type RequestLimits, type ResolvedRequest } from './work-request.js';

export type WorkLimits = AdmissionLimits & RequestLimits;

export interface WorkServiceOptions {
  engine: Engine;
  events: EventLog;
  mutexes: MutexRegistry;
  semaphores: SemaphoreRegistry;
  eventObjects: EventObjectRegistry;
  clock: Clock;
  limits: WorkLimits;
  workHistory: number;
  /** Called for every work transition (logging, metrics). */
  onTransition?: (work: WorkRecord, type: WorkEventType) => void;
  /** Called when the engine's phases break mutual exclusion (logged as an error, counted). */
  onInvariantViolation?: ViolationListener;
  /** The pool set an event object on a work's return (tpmutex_event_object_sets_total{source="return"}). */
  onEventSetOnReturn?: () => void;
}

export interface SubmitResult { work: WorkView; replayed: boolean }

export interface WorkFilter { states?: ReadonlySet<WorkState>; mutex?: string; semaphore?: string; label?: string }

export class WorkService {
  private readonly ids: WorkIds;
  private readonly idempotency = new IdempotencyKeys();
  private readonly history: WorkHistory;
  private readonly waiters = new TerminalWaiters();
  private readonly invariants: InvariantChecks;
  private readonly leases: Leases;
  private leaseExpirations = 0;
  private unfinished = 0;
  private draining = false;
  private readonly engine: Engine;
  private readonly events: EventLog;
  private readonly mutexes: MutexRegistry;
  private readonly semaphores: SemaphoreRegistry;
  private readonly eventObjects: EventObjectRegistry;
  private readonly onEventSetOnReturn: (() => void) | undefined;
  private readonly clock: Clock;
  private readonly limits: WorkLimits;
  private readonly onTransition: ((work: WorkRecord, type: WorkEventType) => void) | undefined;

  constructor(options: WorkServiceOptions) {
    this.engine = options.engine;
    this.events = options.events;
    this.mutexes = options.mutexes;
    this.semaphores = options.semaphores;
    this.eventObjects = options.eventObjects;
    this.onEventSetOnReturn = options.onEventSetOnReturn;
    this.clock = options.clock;
    this.limits = options.limits;
    this.onTransition = options.onTransition;
    this.ids = new WorkIds(options.events.boot);
    this.history = new WorkHistory(options.workHistory, (work) => {
      if (work.idempotencyKey !== null) this.idempotency.forget(work.idempotencyKey);
    });
    this.invariants = new InvariantChecks(options.onInvariantViolation);
    this.leases = new Leases({ now: () => this.clock.nowNs(), onExpire: (id) => this.expireLease(id) });
    this.engine.onPhase((phase) => this.onPhase(phase));
  }

  get unfinishedCount(): number { return this.unfinished; }
  get retainedCount(): number { return this.history.size; }
  /** Unfinished works under a lease now. */
  get leasedCount(): number { return this.leases.size; }
  /** Leases that ran out and ended their work, since the process started. */
  get leaseExpiredCount(): number { return this.leaseExpirations; }

  submit(body: WorkRequestBody, idempotencyKey: string | undefined): SubmitResult {
    this.refuseWhileDraining();
    return this.accept(resolveRequest(body, this.limits), idempotencyKey);
  }

  /**
   * Abandonment on cue (POST /v1/mutexes/{name}/abandon): a work whose dedicated thread
   * acquires the mutex and exits owning it. The mutex opens on first use, as for a work.
   */
  abandon(mutex: string, body: AbandonRequestBody, idempotencyKey: string | undefined): SubmitResult {
    this.refuseWhileDraining();
    return this.accept(resolveAbandon(mutex, body, this.limits), idempotencyKey);
  }

  private refuseWhileDraining(): void {
    if (this.draining) throw new ServiceError('shutting-down', 'the service is shutting down and accepts no new work', { retryAfterSeconds: 1 });
  }

  private accept(request: ResolvedRequest, idempotencyKey: string | undefined): SubmitResult {
    // Only a keyed request needs its fingerprint.
    const print = idempotencyKey === undefined ? '' : fingerprint({ ...request });
    if (idempotencyKey !== undefined) {
      const seen = this.idempotency.lookup(idempotencyKey, print);
      if (seen.kind === 'replay') return { work: this.view(this.require(seen.workId)), replayed: true };
      if (seen.kind === 'mismatch') {
        throw new ServiceError('idempotency-key-reused',
          `Idempotency-Key ${JSON.stringify(idempotencyKey)} was used for work ${seen.workId} with a different request`);
      }
    }
    const resolved = this.resolveObjects(request);
    const { seq, id } = this.ids.next();
    const work: WorkRecord = {
      seq, id, request: resolved, idempotencyKey: idempotencyKey ?? null, state: 'queued',
      fencingToken: null, abandoned: null, threadId: null, mayRunLong: null, signaled: false, cancelRequested: false,
      queuedNs: this.clock.nowNs(), startedNs: null, acquiredNs: null, returnedNs: null, releasedNs: null, endedNs: null,
      error: null, invariantViolation: null, actions: null, lease: null,
    };
    // The engine reports phases asynchronously, so submitting before publishing
    // `work.queued` cannot reorder events, and a refused submit leaves no trace.
    if (resolved.operation === 'abandon') {
      this.engine.abandon({ workId: id, mutex: resolved.mutex!, acquireTimeoutMs: resolved.acquireTimeoutMs });
    } else {
      this.engine.submit(this.spec(id, resolved));
    }
    this.history.add(work);
    if (resolved.leaseMs !== null) this.renewLease(work, resolved.leaseMs);
    if (idempotencyKey !== undefined) this.idempotency.remember(idempotencyKey, print, id);
    this.unfinished++;
    if (resolved.mutex !== null) countSubmitted(this.mutexes.require(resolved.mutex));
    if (resolved.semaphore !== null) countSubmitted(this.semaphores.require(resolved.semaphore));
    if (resolved.setEventOnReturn !== null) this.eventObjects.require(resolved.setEventOnReturn).pendingSetters++;
    this.publish(work, 'work.queued');
    return { work: this.view(work), replayed: false };
  }

  /**
   * Checks the admission limits and finds the objects: a mutex opens on first use, a
   * semaphore or event object must be open (they need their counts or type). Names
   * become the records' names (another spelling of an open object is that object).
   */
  private resolveObjects(request: ResolvedRequest): ResolvedRequest {
    const semaphore = request.semaphore === null ? null : this.semaphores.require(request.semaphore);
    const event = request.setEventOnReturn === null ? null : this.eventObjects.require(request.setEventOnReturn);
    const knownMutex = request.mutex === null ? undefined : this.mutexes.get(request.mutex);
    checkAdmission(this.unfinished, objectNameOf(request), knownMutex ?? semaphore ?? undefined, this.limits);
    const mutex = request.mutex === null ? null : knownMutex ?? this.mutexes.open(request.mutex).record;
    return {
      ...request,
      mutex: mutex?.name ?? null,
      semaphore: semaphore?.name ?? null,
      setEventOnReturn: event?.name ?? null,
    };
  }

  private spec(workId: string, request: ResolvedRequest): WorkSpec {
    return {
      workId,
      acquire: request.mutex !== null ? { kind: 'mutex', name: request.mutex }
        : request.semaphore !== null ? { kind: 'semaphore', name: request.semaphore } : { kind: 'none' },
      setEventOnReturn: request.setEventOnReturn,
      acquireTimeoutMs: request.acquireTimeoutMs,
      spinMs: request.spinMs,
      holdMs: request.untilSignaled && request.holdMs === 0 ? this.limits.maxHoldMs : request.holdMs,
      mayRunLong: request.mayRunLong,
    };
  }

  get(id: string): WorkView { return this.view(this.require(id)); }

  require(id: string): WorkRecord {
    const work = this.history.get(id);
    if (work) return work;
    if (this.ids.seqOf(id) !== null) {
      throw new ServiceError('work-evicted',
        `work ${id} finished and was evicted from the history (WORK_HISTORY keeps the last ${this.history.limit} finished works)`);
    }
    throw new ServiceError('work-not-found', `no work with id ${JSON.stringify(id)} was submitted to this server process`);
  }

  list(filter: WorkFilter, limit: number, cursor: string | undefined): { items: WorkView[]; nextCursor: string | null } {
    const after = decodeCursor(cursor, this.ids.lastIssued);
    if (after === null) throw invalid([{ field: 'query/cursor', message: 'is not a cursor this service issued' }]);
    const items: WorkView[] = [];
    let lastSeq = 0;
    let more = false;
    for (const work of this.history.values()) {
      if (work.seq <= after) continue;
      if (filter.states && !filter.states.has(work.state)) continue;
      if (filter.mutex !== undefined && work.request.mutex !== this.mutexes.canonical(filter.mutex)) continue;
      if (filter.semaphore !== undefined && work.request.semaphore !== (this.semaphores.get(filter.semaphore)?.name ?? filter.semaphore)) continue;
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
    if (!isTerminal(work.state) && timeoutMs > 0) await this.waiters.wait(id, timeoutMs, abort);
    return this.view(work);
  }

  /**
   * Shutdown (docs/design.md §4.5): refuse new work, let the engine cancel what has not
   * started, abort waits, end holds and wait for callbacks; every work gets its
   * terminal event before this resolves.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    this.draining = true;
    // The engine ends every hold now; a lease running out meanwhile would only race it.
    this.leases.stop();
    await this.engine.close({ timeoutMs });
    // An engine that broke its contract must still not leave a work without an end.
    for (const work of this.history.values()) {
      if (!isTerminal(work.state)) {
        this.onPhase({ type: 'failed', workId: work.id, atNs: this.clock.nowNs(), error: new EngineError('shutting_down', 'the engine closed without finishing this work') });
      }
    }
  }

  view(work: WorkRecord): WorkView { return toWorkView(work, this.clock, this.events.boot); }

  private requireUnfinished(id: string, action: string): WorkRecord {
    const work = this.require(id);
    if (isTerminal(work.state)) throw new ServiceError('work-finished', `cannot ${action} work ${id}: it is already ${work.state}`);
    return work;
  }

  private onPhase(phase: Phase): void {
    const work = this.history.get(phase.workId);
    if (!work) return;
    const { request } = work;
    const mutex = request.mutex === null ? undefined : this.mutexes.get(request.mutex);
    if (phase.type === 'acquired' && mutex) this.checkPreviousHolder(mutex, work, phase);
    const before = work.state;
    // Phases of one work come in their own order (engine contract); one that does not
    // fit the state is dropped rather than allowed to move the work backwards.
    if (!applyPhase(work, phase)) return;
    // The engine saw a signal; the service knows it was the lease running out.
    if (phase.type === 'returned' && work.lease?.expired === true) work.signaled = false;
    if (mutex) {
      this.invariants.observe(mutex, work, phase);
      countTransition(mutex, MUTEX_HOLDER, work, before);
    }
    const semaphore = request.semaphore === null ? undefined : this.semaphores.get(request.semaphore);
    if (semaphore) {
      countTransition(semaphore, SEMAPHORE_HOLDERS, work, before);
      if (phase.type === 'acquired') this.invariants.semaphoreAcquired(semaphore, work);
    }
    if (before !== work.state && isTerminal(work.state)) {
      const event = request.setEventOnReturn === null ? undefined : this.eventObjects.get(request.setEventOnReturn);
      if (event && countSetterEnded(event, work)) this.onEventSetOnReturn?.();
      this.finish(work);
    }
    this.publish(work, `work.${phase.type}`);
  }

  /** An `acquired` while the engine has not reported the previous holder released breaks the engine contract. */
  private checkPreviousHolder(mutex: MutexRecord, next: WorkRecord, phase: Phase): void {
    const holder = mutex.holder;
    if (!holder || holder.workId === next.id) return;
    const previous = this.history.get(holder.workId);
    if (previous?.state !== 'holding') return;
    this.invariants.acquiredWhileHeld(mutex, next, phase, previous);
  }

  private finish(work: WorkRecord): void {
    this.unfinished--;
    this.leases.drop(work.id);
    this.history.finish(work);
    // Waiters resolve after the terminal event is published (publish runs right after).
    this.waiters.release(work.id);
  }

  // --- leases (docs/design.md §3.1): a work whose client stops renewing it ends -------

  /**
   * Renews the lease (POST /v1/work/{id}/keepalive); `leaseMs` adds a lease to a work
   * without one, or changes it. 409 once the work ended or its lease ran out.
   */
  keepalive(id: string, leaseMs: number | undefined): WorkView {
    const work = this.require(id);
    if (work.lease?.expired === true) {
      throw new ServiceError('lease-expired', `work ${id}: its lease of ${work.lease.leaseMs} ms ran out without a keepalive; the service ended it`);
    }
    if (isTerminal(work.state)) throw new ServiceError('work-finished', `cannot keep work ${id} alive: it is already ${work.state}`);
    if (leaseMs !== undefined) {
      const issues = leaseIssues(leaseMs, this.limits, 'body/leaseMs');
      if (issues.length > 0) throw invalid(issues);
    }
    const terms = leaseMs ?? work.lease?.leaseMs;
    if (terms === undefined) throw invalid([{ field: 'body/leaseMs', message: `is required: work ${id} has no lease to renew` }]);
    this.renewLease(work, terms);
    return this.view(work);
  }

  private renewLease(work: WorkRecord, leaseMs: number): void {
    work.lease = { ...this.leases.renew(work.id, leaseMs), expired: false };
  }

  /**
   * The lease ran out: `work.lease_expired` first, then the engine ends the work as a
   * signal (holding: the pool releases what it holds) or a cancel (queued, waiting), whose
   * terminal event follows. A hold already returning ends on its own.
   */
  private expireLease(id: string): void {
    const work = this.history.get(id);
    if (!work || isTerminal(work.state) || work.lease === null) return;
    if (work.state === 'holding' && work.returnedNs !== null) return;
    work.lease = { ...work.lease, expired: true };
    this.leaseExpirations++;
    this.publish(work, 'work.lease_expired');
    if (work.state === 'holding') this.engine.signal(id);
    else this.engine.cancel(id);
  }

  private publish(work: WorkRecord, type: WorkEventType): void {
    // Rendered only if someone reads the event: a snapshot of the record (its fields are
    // scalars or never mutated) and the time, turned into JSON later.
    const atNs = this.clock.nowNs();
    const snapshot: WorkRecord = { ...work };
    this.events.publish(type, () => this.clock.iso(atNs), () => ({ work: this.view(snapshot) }), { mutex: objectNameOf(work.request), workId: work.id });
    this.onTransition?.(work, type);
  }
}
