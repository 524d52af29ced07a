/**
 * What each engine error code is in the problem catalogue: the one mapping, identical
 * whichever engine raised it. The HTTP layer answers a thrown engine error with it, and
 * a failed work carries it as its `error`.
 */
import type { EngineError, EngineErrorCode } from '../engine/errors.js';
import type { ProblemBody } from './common.js';
import { problemType, type ProblemSlug } from './problem-types.js';

export interface EngineProblem { status: number; slug: ProblemSlug; title: string; detail: string }

const ENGINE_PROBLEMS: Record<EngineErrorCode, [number, ProblemSlug, string]> = {
  name_conflict: [409, 'name-conflict', 'Name used by another kind of object'],
  name_invalid: [400, 'name-invalid', 'Name rejected by the OS'],
  access_denied: [403, 'access-denied', 'Access denied by the mutex'],
  privilege_required: [403, 'privilege-required', 'Privilege required'],
  mutex_not_open: [404, 'mutex-not-open', 'Mutex not open'],
  mutex_in_use: [409, 'mutex-in-use', 'Mutex in use'],
  object_not_open: [404, 'object-not-open', 'Object not open'],
  object_in_use: [409, 'object-in-use', 'Object in use'],
  rule_violation: [500, 'rule-violation', 'Windows rule violated (checked mode)'],
  work_unknown: [404, 'work-unknown', 'Work not found'],
  pool_limits_invalid: [400, 'pool-limits-invalid', 'Invalid pool limits'],
  shutting_down: [503, 'shutting-down', 'Shutting down'],
  engine_unavailable: [503, 'engine-unavailable', 'Engine unavailable'],
  thread_died: [500, 'thread-died', 'Callback thread died'],
  os_error: [500, 'os-error', 'Operating system error'],
};

export function engineProblem(err: EngineError): EngineProblem {
  const [status, slug, title] = ENGINE_PROBLEMS[err.code];
  // 5xx details stay in the log; the client gets the stable code only.
  // A rule violation names the rule and what NtQueryMutant saw: nothing secret, and
  // the point of checked mode is that a test sees it.
  const detail = status >= 500 && err.code !== 'shutting_down' && err.code !== 'engine_unavailable' && err.code !== 'rule_violation'
    ? `the engine failed (${err.code}); see the service log`
    : err.message;
  return { status, slug, title, detail };
}

/** A failed work's `error`: the engine's error as the client may see it. */
export function engineErrorBody(err: EngineError): ProblemBody {
  const { status, slug, title, detail } = engineProblem(err);
  return { type: problemType(slug), title, status, detail };
}
