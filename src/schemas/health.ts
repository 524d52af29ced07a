import { Type, type Static } from 'typebox';

/** GET /livez and /readyz. */
export const Health = Type.Object({
  status: Type.String({ description: 'ready, or why not: starting, draining, stopped, engine_failed' }),
  reason: Type.Optional(Type.String({ description: 'engine_failed: what stopped the engine (it takes no work until the service restarts)' })),
});
export type HealthView = Static<typeof Health>;
