/** Readiness: the engine running, sound and not draining (GET /readyz, /v1/status, /metrics). */
import type { Engine } from '../engine/types.js';
import type { HealthView } from '../schemas/health.js';
import type { StatusView } from '../schemas/status.js';

export interface ReadinessSource {
  readonly lifecycle: { readonly state: StatusView['status'] };
  readonly engine: Pick<Engine, 'fault'>;
}

export function readiness({ lifecycle, engine }: ReadinessSource): HealthView {
  if (lifecycle.state !== 'ready') return { status: lifecycle.state };
  const fault = engine.fault();
  return fault === undefined ? { status: 'ready' } : { status: 'engine_failed', reason: fault.message };
}
