/**
 * Interim: the parts of the engine contract (semaphores, event objects, abandonment) that
 * an engine does not implement yet refuse with this error. Removed when both engines
 * implement the whole contract.
 */
import { EngineError } from './errors.js';
import type { WorkSpec } from './types.js';

export function unsupported(what: string): never {
  throw new EngineError('engine_unavailable', `${what} is not implemented by this engine yet`);
}

/** The mutex a mutex-only work acquires; anything else is refused. */
export function mutexOnly(spec: WorkSpec): string {
  if (spec.acquire.kind !== 'mutex' || spec.setEventOnReturn !== null) unsupported(`a ${spec.acquire.kind} work`);
  return spec.acquire.name;
}
