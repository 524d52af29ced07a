/**
 * Request resolution: a submit body checked against the configured bounds, with the
 * defaults filled in. The schema fixes types; the bounds are configuration, so they are
 * checked here, every bad field at once.
 */
import type { Config } from '../config.js';
import { normaliseName } from '../mutex/names.js';
import type { ValidationIssue } from '../schemas/common.js';
import type { AbandonRequestBody, WorkRequestBody } from '../schemas/work.js';
import { invalid, ServiceError } from '../service-error.js';

export type RequestLimits = Pick<Config['limits'], 'maxAcquireTimeoutMs' | 'maxHoldMs' | 'maxSpinMs' | 'maxLabelLength' | 'maxLeaseMs'>;

export interface ResolvedRequest {
  /** work: POST /v1/work; abandon: POST /v1/mutexes/{name}/abandon. */
  readonly operation: 'work' | 'abandon';
  /** At most one of mutex and semaphore is set. */
  readonly mutex: string | null;
  readonly semaphore: string | null;
  readonly setEventOnReturn: string | null;
  readonly acquireTimeoutMs: number;
  readonly holdMs: number;
  readonly untilSignaled: boolean;
  readonly spinMs: number;
  readonly mayRunLong: boolean;
  readonly label: string | null;
  /** null: no lease (work/leases.ts). */
  readonly leaseMs: number | null;
}

const DEFAULTS = { acquireTimeoutMs: 30_000, holdMs: 0, untilSignaled: false, spinMs: 0, mayRunLong: false } as const;

/** The object name a filter or a phase is keyed by: what it acquires, else the event it sets. */
export const objectNameOf = (request: ResolvedRequest): string =>
  request.mutex ?? request.semaphore ?? request.setEventOnReturn ?? '';

/** Throws one validation error listing every bad field. */
export function resolveRequest(body: WorkRequestBody, limits: RequestLimits): ResolvedRequest {
  const issues: ValidationIssue[] = [];
  const bound = (field: 'acquireTimeoutMs' | 'holdMs' | 'spinMs', max: number, limit: string) => {
    const value = body[field] ?? DEFAULTS[field];
    if (value > max) issues.push({ field: `body/${field}`, message: `must be <= ${max} (${limit})` });
    return value;
  };
  const acquireTimeoutMs = bound('acquireTimeoutMs', limits.maxAcquireTimeoutMs, 'MAX_ACQUIRE_TIMEOUT_MS');
  const holdMs = bound('holdMs', limits.maxHoldMs, 'MAX_HOLD_MS');
  const spinMs = bound('spinMs', limits.maxSpinMs, 'MAX_SPIN_MS');
  const leaseMs = body.leaseMs ?? null;
  if (leaseMs !== null) issues.push(...leaseIssues(leaseMs, limits, 'body/leaseMs'));
  const label = checkLabel(body.label, limits, issues);
  if (body.mutex === undefined && body.semaphore === undefined && body.setEventOnReturn === undefined) {
    // Named body/mutex, as before semaphores existed: clients that look for that field keep working.
    issues.push({ field: 'body/mutex', message: 'is required unless semaphore or setEventOnReturn is given: a work needs at least one of mutex, semaphore or setEventOnReturn' });
  }
  if (body.mutex !== undefined && body.semaphore !== undefined) {
    issues.push({ field: 'body/semaphore', message: 'must not be given together with mutex: a callback acquires at most one object' });
  }
  const mutex = name(body.mutex, 'body/mutex', 'mutex', issues);
  const semaphore = name(body.semaphore, 'body/semaphore', 'semaphore', issues);
  const setEventOnReturn = name(body.setEventOnReturn, 'body/setEventOnReturn', 'event object', issues);
  if (issues.length > 0) throw invalid(issues);
  return {
    operation: 'work',
    mutex,
    semaphore,
    setEventOnReturn,
    acquireTimeoutMs,
    holdMs,
    untilSignaled: body.untilSignaled ?? DEFAULTS.untilSignaled,
    spinMs,
    mayRunLong: body.mayRunLong ?? DEFAULTS.mayRunLong,
    label,
    leaseMs,
  };
}

/** An abandon request on a normalised mutex name. */
export function resolveAbandon(mutex: string, body: AbandonRequestBody, limits: RequestLimits): ResolvedRequest {
  const issues: ValidationIssue[] = [];
  const acquireTimeoutMs = body.acquireTimeoutMs ?? DEFAULTS.acquireTimeoutMs;
  if (acquireTimeoutMs > limits.maxAcquireTimeoutMs) issues.push({ field: 'body/acquireTimeoutMs', message: `must be <= ${limits.maxAcquireTimeoutMs} (MAX_ACQUIRE_TIMEOUT_MS)` });
  const label = checkLabel(body.label, limits, issues);
  if (issues.length > 0) throw invalid(issues);
  return {
    operation: 'abandon', mutex, semaphore: null, setEventOnReturn: null,
    acquireTimeoutMs, holdMs: 0, untilSignaled: false, spinMs: 0, mayRunLong: false, label, leaseMs: null,
  };
}

function checkLabel(raw: string | undefined, limits: RequestLimits, issues: ValidationIssue[]): string | null {
  const label = raw ?? null;
  if (label !== null && label.length > limits.maxLabelLength) {
    issues.push({ field: 'body/label', message: `must be at most ${limits.maxLabelLength} characters (MAX_LABEL_LENGTH)` });
  }
  return label;
}

function name(raw: string | undefined, field: string, noun: string, issues: ValidationIssue[]): string | null {
  if (raw === undefined) return null;
  try {
    return normaliseName(raw, field, noun);
  } catch (err) {
    if (err instanceof ServiceError && err.details.issues) issues.push(...err.details.issues);
    else throw err;
    return null;
  }
}

/** A lease longer than MAX_LEASE_MS (the schema already refused one below its minimum). */
export function leaseIssues(leaseMs: number, limits: Pick<RequestLimits, 'maxLeaseMs'>, field: string): ValidationIssue[] {
  return leaseMs > limits.maxLeaseMs ? [{ field, message: `must be <= ${limits.maxLeaseMs} (MAX_LEASE_MS)` }] : [];
}
