/**
 * Every error the API returns is an RFC 9457 problem. The service raises ServiceError
 * and the engine EngineError; this module maps both (and the HTTP layer's own refusals)
 * to HttpProblem, which the one error handler (http/errors.ts) sends as
 * application/problem+json.
 */
import { isEngineError, type EngineError } from '../engine/errors.js';
import type { ProblemBody, ValidationIssue } from '../schemas/common.js';
import { engineProblem } from '../schemas/engine-problems.js';
import { PROBLEM_TYPES, problemType, type ProblemSlug } from '../schemas/problem-types.js';
import { ServiceError, type ServiceErrorCode } from '../service-error.js';

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

export const limitExceeded = (limit: string, detail: string, retryAfterSeconds?: number) =>
  new HttpProblem(429, 'limit-exceeded', 'Limit exceeded', detail, {
    limit,
    ...(retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(retryAfterSeconds) } }),
  });

export const unavailable = (slug: ProblemSlug, detail: string) =>
  new HttpProblem(503, slug, 'Service unavailable', detail, { headers: { 'retry-after': '1' } });

const SERVICE_TITLES: Record<ServiceErrorCode, string> = {
  'validation': 'Invalid request',
  'name-not-allowed': 'Name not allowed',
  'global-names-disabled': 'Name not allowed',
  'work-not-found': 'Not found',
  'work-evicted': 'Work evicted',
  'mutex-not-open': 'Not found',
  'work-finished': 'Conflict',
  'lease-expired': 'Lease expired',
  'mutex-in-use': 'Conflict',
  'object-not-open': 'Not found',
  'object-in-use': 'Conflict',
  'name-conflict': 'Name used by another kind of object',
  'idempotency-key-reused': 'Idempotency key reused',
  'limit-exceeded': 'Limit exceeded',
  'shutting-down': 'Service unavailable',
};

/** The status is the catalogue's for the code; the service's details become the body's. */
export function fromServiceError(err: ServiceError): HttpProblem {
  const { issues, limit, retryAfterSeconds } = err.details;
  return new HttpProblem(PROBLEM_TYPES[err.code][0], err.code, SERVICE_TITLES[err.code], err.message, {
    ...(issues ? { errors: [...issues] } : {}),
    ...(limit === undefined ? {} : { limit }),
    ...(retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(retryAfterSeconds) } }),
  });
}

/** The one mapping from engine codes to HTTP, identical whichever engine raised it. */
export function fromEngineError(err: EngineError): HttpProblem {
  const { status, slug, title, detail } = engineProblem(err);
  return new HttpProblem(status, slug, title, detail, status === 503 ? { headers: { 'retry-after': '1' } } : {});
}

export function toHttpProblem(err: unknown): HttpProblem | undefined {
  if (err instanceof HttpProblem) return err;
  if (err instanceof ServiceError) return fromServiceError(err);
  if (isEngineError(err)) return fromEngineError(err);
  return undefined;
}
