/**
 * The service graph, built once per app from its dependencies (no singletons): the
 * routes receive it as plugin options and call services, never the engine directly.
 */
import { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Engine } from './engine/types.js';
import { EventLog } from './events/event-log.js';
import { SseHub } from './events/sse.js';
import { MutexRegistry } from './mutex/registry.js';
import { PoolService } from './pool/pool-service.js';
import { WorkService, type WorkServiceOptions } from './work/work-service.js';

export type Lifecycle = 'starting' | 'ready' | 'draining' | 'stopped';

export interface Services {
  readonly config: Config;
  readonly engine: Engine;
  readonly clock: Clock;
  readonly events: EventLog;
  readonly sse: SseHub;
  readonly mutexes: MutexRegistry;
  readonly work: WorkService;
  readonly pool: PoolService;
  readonly lifecycle: { state: Lifecycle; startedAt: string };
}

export function createServices(config: Config, engine: Engine, hooks: Pick<WorkServiceOptions, 'onTransition'> = {}): Services {
  const clock = new Clock(() => engine.nowNs());
  const events = new EventLog(config.events.bufferSize);
  const mutexes = new MutexRegistry(engine, events, clock, config.limits.maxMutexes);
  const work = new WorkService({
    engine, events, mutexes, clock,
    limits: config.limits,
    workHistory: config.workHistory,
    ...hooks,
  });
  return {
    config,
    engine,
    clock,
    events,
    sse: new SseHub(events, { heartbeatMs: config.events.heartbeatMs, maxBufferedBytes: config.events.maxBufferedBytes }),
    mutexes,
    work,
    pool: new PoolService(engine, config.pool.threadsLimit),
    lifecycle: { state: 'starting', startedAt: clock.nowIso() },
  };
}
