/**
 * Every error the API returns is an RFC 9457 problem. Services throw HttpProblem; the
 * one error handler (http/errors.ts) turns it (and Fastify's own errors) into
 * application/problem+json.
 */
import { isEngineError, type EngineError, type EngineErrorCode } from '../engine/errors.js';
import { problemType, type ProblemSlug } from '../schemas/problem-types.js';

export interface ValidationIssue { field: string; message: string }

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: ValidationIssue[];
  limit?: string;
}


export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly slug: ProblemSlug,
    readonly title: string,
    readonly detail: string,
    readonly extra: { errors?: ValidationIssue[]; limit?: string; headers?: Record<string, string> } = {},
  ) {
    super(detail);
  }

  toBody(instance?: string): ProblemBody {
    return {
      type: problemType(this.slug),
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(instance === undefined ? {} : { instance }),
      ...(this.extra.errors ? { errors: this.extra.errors } : {}),
      ...(this.extra.limit ? { limit: this.extra.limit } : {}),
    };
  }
}

export const validationProblem = (errors: ValidationIssue[]) =>
  new HttpProblem(400, 'validation', 'Invalid request', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });

export const notFound = (slug: ProblemSlug, detail: string) => new HttpProblem(404, slug, 'Not found', detail);

export const conflict = (slug: ProblemSlug, detail: string) => new HttpProblem(409, slug, 'Conflict', detail);

export const limitExceeded = (limit: string, detail: string, retryAfterSeconds?: number) =>
  new HttpProblem(429, 'limit-exceeded', 'Limit exceeded', detail, {
    limit,
    ...(retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(retryAfterSeconds) } }),
  });

export const unavailable = (slug: ProblemSlug, detail: string) =>
  new HttpProblem(503, slug, 'Service unavailable', detail, { headers: { 'retry-after': '1' } });

const ENGINE_STATUS: Record<EngineErrorCode, [number, ProblemSlug, string]> = {
  name_conflict: [409, 'name-conflict', 'Name used by another kind of object'],
  name_invalid: [400, 'name-invalid', 'Name rejected by the OS'],
  access_denied: [403, 'access-denied', 'Access denied by the mutex'],
  privilege_required: [403, 'privilege-required', 'Privilege required'],
  mutex_not_open: [404, 'mutex-not-open', 'Mutex not open'],
  mutex_in_use: [409, 'mutex-in-use', 'Mutex in use'],
  rule_violation: [500, 'rule-violation', 'Windows rule violated (checked mode)'],
  work_unknown: [404, 'work-unknown', 'Work not found'],
  pool_limits_invalid: [400, 'pool-limits-invalid', 'Invalid pool limits'],
  shutting_down: [503, 'shutting-down', 'Shutting down'],
  engine_unavailable: [503, 'engine-unavailable', 'Engine unavailable'],
  thread_died: [500, 'thread-died', 'Callback thread died'],
  os_error: [500, 'os-error', 'Operating system error'],
};

/** The one mapping from engine codes to HTTP, identical whichever engine raised it. */
export function fromEngineError(err: EngineError): HttpProblem {
  const [status, slug, title] = ENGINE_STATUS[err.code];
  // 5xx details stay in the log; the client gets the stable code only.
  // A rule violation names the rule and what NtQueryMutant saw: nothing secret, and
  // the point of checked mode is that a test sees it.
  const detail = status >= 500 && err.code !== 'shutting_down' && err.code !== 'engine_unavailable' && err.code !== 'rule_violation'
    ? `the engine failed (${err.code}); see the service log`
    : err.message;
  return new HttpProblem(status, slug, title, detail, status === 503 ? { headers: { 'retry-after': '1' } } : {});
}

/** A problem body for a work that failed: the engine's error as the client may see it. */
export function engineErrorBody(err: EngineError): ProblemBody {
  return fromEngineError(err).toBody();
}

export function toHttpProblem(err: unknown): HttpProblem | undefined {
  if (err instanceof HttpProblem) return err;
  if (isEngineError(err)) return fromEngineError(err);
  return undefined;
}
