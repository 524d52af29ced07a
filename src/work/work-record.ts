/**
 * A work item as the service keeps it, its lifecycle state machine, and its API view.
 */
import type { Clock } from '../clock.js';
import type { Ns, Phase, ReturnAction } from '../engine/types.js';
import type { ProblemBody } from '../schemas/common.js';
import { engineErrorBody } from '../schemas/engine-problems.js';
import type { WorkState, WorkView } from '../schemas/work.js';
import type { LeaseTerms } from './leases.js';
import type { ResolvedRequest } from './work-request.js';

/** A work's lease as the record keeps it (work/leases.ts); replaced, never mutated, so event snapshots keep theirs. */
export interface WorkLease extends LeaseTerms {
  /** The lease ran out and the service ended the work (docs/design.md §3.1). */
  readonly expired: boolean;
}

/**
 * The engine reported phases that break mutual exclusion on this work's acquisition:
 * `acquired_while_held`: it was reported acquired before the previous holder was
 * reported released (whether or not that holder had returned);
 * `released_after_acquired`: it acquired at a time before the previous holder's
 * release stamp.
 */
export interface InvariantViolation {
  readonly kind: 'acquired_while_held' | 'released_after_acquired' | 'semaphore_over_maximum';
  /** The work that still held the mutex (or released it late; for a semaphore: its oldest holder). */
  readonly previousWorkId: string;
  readonly detail: string;
}

export interface WorkRecord {
  /** Creation order: the id's number and the list cursor. */
  readonly seq: number;
  readonly id: string;
  readonly request: ResolvedRequest;
  readonly idempotencyKey: string | null;
  state: WorkState;
  fencingToken: number | null;
  abandoned: boolean | null;
  threadId: number | null;
  mayRunLong: boolean | null;
  signaled: boolean;
  cancelRequested: boolean;
  queuedNs: Ns;
  startedNs: Ns | null;
  acquiredNs: Ns | null;
  returnedNs: Ns | null;
  releasedNs: Ns | null;
  endedNs: Ns | null;
  error: ProblemBody | null;
  invariantViolation: InvariantViolation | null;
  /** The pool's return actions, in its order, from `released`. */
  actions: readonly ReturnAction[] | null;
  /** null: no lease. */
  lease: WorkLease | null;
}

/** From which states each phase may move a work (docs/design.md §3 States). */
const ALLOWED_FROM: Record<Phase['type'], readonly WorkState[]> = {
  started: ['queued'],
  acquired: ['waiting'],
  returned: ['holding'],
  released: ['holding'],
  abandoned: ['holding'],
  timed_out: ['queued', 'waiting'],
  cancelled: ['queued', 'waiting'],
  failed: ['queued', 'waiting', 'holding'],
};

const NEXT_STATE: Record<Phase['type'], WorkState> = {
  started: 'waiting',
  acquired: 'holding',
  returned: 'holding',
  released: 'released',
  abandoned: 'abandoned',
  timed_out: 'timed_out',
  cancelled: 'cancelled',
  failed: 'failed',
};

/**
 * A work that acquires nothing (it only sets an event on return) goes queued → waiting
 * → released, its `returned` arriving while it is still `waiting` (no `acquired`).
 */
export function canApply(work: WorkRecord, phase: Phase): boolean {
  if (acquiresNothing(work) && (phase.type === 'returned' || phase.type === 'released')) {
    return work.state === 'waiting' && (phase.type === 'returned') === (work.returnedNs === null);
  }
  return ALLOWED_FROM[phase.type].includes(work.state);
}

export const acquiresNothing = (work: WorkRecord) => work.request.mutex === null && work.request.semaphore === null;

/**
 * Applies one engine phase to the record. Returns false (and changes nothing) when the
 * phase does not fit the state: an engine that reports a work's phases out of order.
 */
export function applyPhase(work: WorkRecord, phase: Phase): boolean {
  if (!canApply(work, phase)) return false;
  switch (phase.type) {
    case 'started':
      work.startedNs = phase.atNs;
      work.threadId = phase.threadId;
      work.mayRunLong = phase.mayRunLong;
      break;
    case 'acquired':
      work.acquiredNs = phase.atNs;
      work.threadId = phase.threadId;
      work.abandoned = phase.abandoned;
      work.fencingToken = phase.fencingToken;
      break;
    case 'returned':
      work.returnedNs = phase.atNs;
      work.signaled = phase.signaled;
      // Nothing is owned: the work stays `waiting` until the pool has done its actions.
      if (acquiresNothing(work)) return true;
      break;
    case 'released':
      work.releasedNs = phase.atNs;
      work.endedNs = phase.atNs;
      work.actions = phase.actions;
      break;
    case 'abandoned':
      work.endedNs = phase.atNs;
      break;
    case 'failed':
      work.error = engineErrorBody(phase.error);
      work.endedNs = phase.atNs;
      break;
    case 'timed_out':
    case 'cancelled':
      work.endedNs = phase.atNs;
      break;
  }
  work.state = NEXT_STATE[phase.type];
  return true;
}

const nsText = (ns: Ns | null) => (ns === null ? null : ns.toString());

/** @param boot this server process: a fencing token is comparable only with tokens of the same boot */
export function toWorkView(work: WorkRecord, clock: Clock, boot: string): WorkView {
  const iso = (ns: Ns | null) => (ns === null ? null : clock.iso(ns));
  const { request } = work;
  const semaphore = request.semaphore !== null;
  return {
    id: work.id,
    operation: request.operation,
    mutex: request.mutex,
    resource: request.mutex !== null ? { kind: 'mutex', name: request.mutex }
      : request.semaphore !== null ? { kind: 'semaphore', name: request.semaphore } : null,
    setEventOnReturn: request.setEventOnReturn,
    actions: work.actions === null ? null : [...work.actions],
    label: request.label,
    state: work.state,
    request: {
      acquireTimeoutMs: request.acquireTimeoutMs,
      holdMs: request.holdMs,
      untilSignaled: request.untilSignaled,
      spinMs: request.spinMs,
      mayRunLong: request.mayRunLong,
      leaseMs: request.leaseMs,
    },
    // A semaphore's sequence number is no fence: several works hold one at once.
    fencingToken: semaphore ? null : work.fencingToken,
    acquisitionSeq: semaphore ? work.fencingToken : null,
    boot,
    abandoned: work.abandoned,
    threadId: work.threadId,
    mayRunLong: work.mayRunLong,
    signaled: work.signaled,
    cancelRequested: work.cancelRequested,
    queuedAt: iso(work.queuedNs), queuedAtNs: nsText(work.queuedNs),
    startedAt: iso(work.startedNs), startedAtNs: nsText(work.startedNs),
    acquiredAt: iso(work.acquiredNs), acquiredAtNs: nsText(work.acquiredNs),
    returnedAt: iso(work.returnedNs), returnedAtNs: nsText(work.returnedNs),
    releasedAt: iso(work.releasedNs), releasedAtNs: nsText(work.releasedNs),
    endedAt: iso(work.endedNs), endedAtNs: nsText(work.endedNs),
    leaseMs: work.lease?.leaseMs ?? null,
    leaseExpiresAt: iso(work.lease?.expiresNs ?? null), leaseExpiresAtNs: nsText(work.lease?.expiresNs ?? null),
    leaseExpired: work.lease?.expired ?? false,
    // Typed as the schema's Ref('Problem'); ProblemBody is that shape.
    error: work.error as WorkView['error'],
    invariantViolation: work.invariantViolation,
  };
}
