/**
 * What the client throws: the service's answer as a typed problem, a service that
 * cannot be reached, and a work that ended without holding its mutex.
 */
import type { Problem, ProblemSlug, ProblemType, Work } from './types.js';

const PROBLEM_PREFIX = 'urn:tpmutex:problem:';

/** An HTTP error answer. `type` is `about:blank` when the answer was not a tpmutex problem (a proxy's, say). */
export class TpmutexProblemError extends Error {
  override readonly name = 'TpmutexProblemError';
  readonly type: ProblemType | 'about:blank';
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  /** The problem+json body as sent (errors[], limit, …); undefined when the answer was not one. */
  readonly problem: Problem | undefined;
  /** Seconds from Retry-After, when the service sent it (429, 503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, problem: Problem | undefined, fallbackDetail: string, retryAfterSeconds?: number) {
    const detail = problem?.detail ?? fallbackDetail;
    super(`${status} ${problem ? problem.type.slice(PROBLEM_PREFIX.length) : 'error'}: ${detail}`);
    this.type = problem?.type ?? 'about:blank';
    this.status = status;
    this.title = problem?.title ?? `HTTP ${status}`;
    this.detail = detail;
    this.problem = problem;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** The problem's slug (`work-finished` for `urn:tpmutex:problem:work-finished`), or undefined. */
  get slug(): ProblemSlug | undefined {
    return this.type === 'about:blank' ? undefined : this.type.slice(PROBLEM_PREFIX.length) as ProblemSlug;
  }

  /** True when this is the problem of that kind: `err.is('work-finished')`. */
  is(slug: ProblemSlug): boolean {
    return this.slug === slug;
  }
}

/** No HTTP answer at all: the connection was refused, reset, or the name did not resolve. */
export class TpmutexConnectionError extends Error {
  override readonly name = 'TpmutexConnectionError';
  constructor(readonly url: string, cause: unknown) {
    super(`cannot reach ${url}: ${describeCause(cause)}`, { cause });
  }
}

/** acquire() or hold() (or their semaphore forms): the work ended (timed out, cancelled, failed) without holding its mutex or unit. */
export class WorkNotHeldError extends Error {
  override readonly name = 'WorkNotHeldError';
  constructor(readonly work: Work) {
    super(`work ${work.id} on ${work.resource?.name ?? work.mutex} ended ${work.state} without holding the ${heldOf(work)}${work.error ? `: ${work.error.detail}` : ''}`);
  }
}

/** hold() or holdSemaphore(): the lease ran out while `fn` ran (no keepalive reached the service in time), so the mutex or unit was released before `fn` finished. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(readonly work: Work) {
    super(`work ${work.id} on ${work.resource?.name ?? work.mutex}: its lease of ${work.leaseMs ?? '?'} ms ran out while the hold's function ran; the service released the ${heldOf(work)} (${work.state})`);
  }
}

/** What a work holds, for a message: "mutex" or "semaphore unit". */
const heldOf = (work: Work): string => (work.resource?.kind === 'semaphore' ? 'semaphore unit' : 'mutex');

/** fetch's TypeError says only "fetch failed"; the reason is in its cause (ECONNREFUSED, ENOTFOUND, …). */
function describeCause(err: unknown): string {
  let reason: unknown = err;
  while (reason instanceof Error && reason.cause !== undefined && reason.message === 'fetch failed') reason = reason.cause;
  if (reason instanceof AggregateError && reason.errors.length > 0) reason = reason.errors[0];
  if (reason instanceof Error) {
    const code = (reason as NodeJS.ErrnoException).code;
    return code !== undefined && !reason.message.includes(code) ? `${code} ${reason.message}` : reason.message;
  }
  return String(reason);
}
