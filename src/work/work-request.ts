/**
 * Request resolution: a submit body checked against the configured bounds, with the
 * defaults filled in. The schema fixes types; the bounds are configuration, so they are
 * checked here, every bad field at once.
 */
import type { Config } from '../config.js';
import { MutexRegistry } from '../mutex/registry.js';
import type { ValidationIssue } from '../schemas/common.js';
import type { WorkRequestBody } from '../schemas/work.js';
import { invalid, ServiceError } from '../service-error.js';

export type RequestLimits = Pick<Config['limits'], 'maxAcquireTimeoutMs' | 'maxHoldMs' | 'maxSpinMs' | 'maxLabelLength' | 'maxLeaseMs'>;

export interface ResolvedRequest {
  readonly mutex: string;
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
  const label = body.label ?? null;
  if (label !== null && label.length > limits.maxLabelLength) {
    issues.push({ field: 'body/label', message: `must be at most ${limits.maxLabelLength} characters (MAX_LABEL_LENGTH)` });
  }
  let mutex = '';
  try {
    mutex = MutexRegistry.normalise(body.mutex, 'body/mutex');
  } catch (err) {
    if (err instanceof ServiceError && err.details.issues) issues.push(...err.details.issues);
    else throw err;
  }
  if (issues.length > 0) throw invalid(issues);
  return {
    mutex,
    acquireTimeoutMs,
    holdMs,
    untilSignaled: body.untilSignaled ?? DEFAULTS.untilSignaled,
    spinMs,
    mayRunLong: body.mayRunLong ?? DEFAULTS.mayRunLong,
    label,
    leaseMs,
  };
}

/** A lease longer than MAX_LEASE_MS (the schema already refused one below its minimum). */
export function leaseIssues(leaseMs: number, limits: Pick<RequestLimits, 'maxLeaseMs'>, field: string): ValidationIssue[] {
  return leaseMs > limits.maxLeaseMs ? [{ field, message: `must be <= ${limits.maxLeaseMs} (MAX_LEASE_MS)` }] : [];
}
