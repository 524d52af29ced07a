/**
 * The service graph, built once per app from its dependencies (no singletons): the
 * routes receive it as plugin options and call services, never the engine directly.
 */
import { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Engine } from './engine/types.js';
import { EventLog } from './events/event-log.js';
import { SseHub } from './events/sse.js';
import { Metrics } from './metrics/metrics.js';
import { EventObjectRegistry } from './event-object/registry.js';
import { MutexRegistry } from './mutex/registry.js';
import { ObjectKinds } from './objects/object-kinds.js';
import { SemaphoreRegistry } from './semaphore/registry.js';
import { NamePolicy } from './policy/name-policy.js';
import { PoolService } from './pool/pool-service.js';
import type { StatusView } from './schemas/status.js';
import { readiness } from './status/readiness.js';
import { WorkTotals } from './status/work-totals.js';
import { version } from './version.js';
import { WorkService, type WorkServiceOptions } from './work/work-service.js';

export type Lifecycle = StatusView['status'];

export interface Services {
  readonly config: Config;
  readonly engine: Engine;
  readonly clock: Clock;
  readonly events: EventLog;
  readonly sse: SseHub;
  readonly mutexes: MutexRegistry;
  readonly semaphores: SemaphoreRegistry;
  readonly eventObjects: EventObjectRegistry;
  readonly work: WorkService;
  readonly pool: PoolService;
  readonly metrics: Metrics;
  readonly totals: WorkTotals;
  readonly lifecycle: { state: Lifecycle; startedAt: string };
}

export function createServices(config: Config, engine: Engine, hooks: Pick<WorkServiceOptions, 'onTransition' | 'onInvariantViolation'> = {}): Services {
  const clock = new Clock(() => engine.nowNs());
  const events = new EventLog(config.events.bufferSize);
  const metrics = new Metrics({ version, engine: engine.info.kind });
  const totals = new WorkTotals();
  events.subscribe(() => metrics.onEventPublished());
  const policy = new NamePolicy(config.names);
  const kinds = new ObjectKinds();
  const mutexes = new MutexRegistry(engine, events, clock, config.limits.maxMutexes, (name) => policy.check(name, 'mutex'), kinds);
  const semaphores = new SemaphoreRegistry({
    engine, events, clock, kinds,
    maxSemaphores: config.limits.maxSemaphores,
    maxSemaphoreCount: config.limits.maxSemaphoreCount,
    checkName: (name) => policy.check(name, 'semaphore'),
  });
  const eventObjects = new EventObjectRegistry({
    engine, events, clock, kinds,
    maxEventObjects: config.limits.maxEventObjects,
    checkName: (name) => policy.check(name, 'event object'),
    onSetByApi: () => metrics.onEventObjectSet('api'),
  });
  const work = new WorkService({
    engine, events, mutexes, semaphores, eventObjects, clock,
    onEventSetOnReturn: () => metrics.onEventObjectSet('return'),
    limits: config.limits,
    workHistory: config.workHistory,
    onTransition: (record, type) => {
      totals.onTransition(record.id, type);
      metrics.onTransition(record, type);
      hooks.onTransition?.(record, type);
    },
    onInvariantViolation: (record, violation) => {
      metrics.onInvariantViolation(violation);
      hooks.onInvariantViolation?.(record, violation);
    },
  });
  const sse = new SseHub(events, {
    heartbeatMs: config.events.heartbeatMs,
    maxBufferedBytes: config.events.maxBufferedBytes,
    onOverflow: () => metrics.onOverflow(),
  });
  const lifecycle: Services['lifecycle'] = { state: 'starting', startedAt: clock.nowIso() };
  metrics.watch({
    mutexes: () => mutexCounts(mutexes, clock.nowNs()),
    semaphores: () => semaphoreCounts(semaphores),
    eventObjects: () => eventObjects.size,
    unfinished: () => totals.unfinished(),
    retainedWorks: () => work.retainedCount,
    leasedWorks: () => work.leasedCount,
    pool: () => engine.poolStats(),
    sseSubscribers: () => sse.size,
    ready: () => readiness({ lifecycle, engine }).status === 'ready',
  });
  return {
    config, engine, clock, events, sse, mutexes, semaphores, eventObjects, work,
    pool: new PoolService(engine, config.pool.threadsLimit),
    metrics, totals, lifecycle,
  };
}

function mutexCounts(mutexes: MutexRegistry, nowNs: bigint): { open: number; held: number; oldestHoldSeconds: number } {
  let held = 0;
  let oldestSinceNs: bigint | null = null;
  for (const record of mutexes.all()) {
    if (record.holder === null) continue;
    held++;
    if (oldestSinceNs === null || record.holder.sinceNs < oldestSinceNs) oldestSinceNs = record.holder.sinceNs;
  }
  const oldestHoldSeconds = oldestSinceNs === null || nowNs < oldestSinceNs ? 0 : Number(nowNs - oldestSinceNs) / 1e9;
  return { open: mutexes.size, held, oldestHoldSeconds };
}

function semaphoreCounts(semaphores: SemaphoreRegistry): { open: number; holders: number } {
  let holders = 0;
  for (const record of semaphores.all()) holders += record.holders.size;
  return { open: semaphores.size, holders };
}
