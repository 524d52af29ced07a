/**
 * The one error the service's own modules (work, mutex, policy, pool) raise. It says
 * what went wrong in the problem catalogue's words (src/schemas/problem-types.ts) and
 * nothing about HTTP: the HTTP layer maps it to problem+json (src/http/problem.ts).
 */
import type { ValidationIssue } from './schemas/common.js';
import type { ProblemSlug } from './schemas/problem-types.js';

/** The catalogue entries the service raises itself; the rest come from Fastify or the engine. */
export type ServiceErrorCode = Extract<ProblemSlug,
  | 'validation' | 'name-not-allowed' | 'global-names-disabled'
  | 'work-not-found' | 'work-evicted' | 'mutex-not-open'
  | 'work-finished' | 'lease-expired' | 'mutex-in-use' | 'idempotency-key-reused'
  | 'limit-exceeded' | 'shutting-down'
  | 'object-not-open' | 'object-in-use' | 'name-conflict'>;

export interface ServiceErrorDetails {
  /** `validation`: every bad field, not only the first. */
  readonly issues?: readonly ValidationIssue[];
  /** `limit-exceeded`: the configuration setting that was hit. */
  readonly limit?: string;
  /** When a retry may succeed (limits, draining). */
  readonly retryAfterSeconds?: number;
}

export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(readonly code: ServiceErrorCode, message: string, readonly details: ServiceErrorDetails = {}) {
    super(message);
  }
}

export const invalid = (issues: readonly ValidationIssue[]) =>
  new ServiceError('validation', issues.map((e) => `${e.field}: ${e.message}`).join('; '), { issues });

export const limitExceeded = (limit: string, message: string, retryAfterSeconds: number) =>
  new ServiceError('limit-exceeded', message, { limit, retryAfterSeconds });
