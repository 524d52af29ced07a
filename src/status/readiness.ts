/** Readiness: the engine running, sound and not draining (GET /readyz, /v1/status, /metrics). */
import type { HealthView } from '../schemas/health.js';
import type { Services } from '../services.js';

export function readiness({ lifecycle, engine }: Pick<Services, 'lifecycle' | 'engine'>): HealthView {
  if (lifecycle.state !== 'ready') return { status: lifecycle.state };
  const fault = engine.fault();
  return fault === undefined ? { status: 'ready' } : { status: 'engine_failed', reason: fault.message };
}
