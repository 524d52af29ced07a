/**
 * Prometheus metrics of one app instance: its own prom-client Registry (never the
 * global default one), so several apps can live in one process (tests) without
 * sharing or clashing. Every name starts with `tpmutex_`, and every label has a small
 * fixed set of values: never a mutex name, work id, token or raw URL.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolStats } from '../engine/types.js';
import type { WorkEventType } from '../schemas/events.js';
import { TERMINAL_STATES, type UnfinishedState } from '../schemas/work.js';
import type { InvariantViolation, WorkRecord } from '../work/work-record.js';
import { heapUsedAfterMajorGc } from './heap-after-gc.js';
import { processHandleCounter } from './process-handles.js';

/** What the gauges read at scrape time. */
export interface MetricsSource {
  /** oldestHoldSeconds: how long the longest current hold by a work of this service has lasted (0 with none). */
  mutexes(): { open: number; held: number; oldestHoldSeconds: number };
  /** holders: works of this service holding a unit of a semaphore now. */
  semaphores(): { open: number; holders: number };
  eventObjects(): number;
  unfinished(): Record<UnfinishedState, number>;
  /** Works the service keeps (unfinished, and finished ones up to WORK_HISTORY). */
  retainedWorks(): number;
  pool(): PoolStats;
  sseSubscribers(): number;
  ready(): boolean;
  /** Unfinished works under a lease. */
  leasedWorks(): number;
}

// From a millisecond to an hour: lock waits and holds span all of it.
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const seconds = (fromNs: bigint | null, toNs: bigint | null): number | null =>
  fromNs === null || toNs === null || toNs < fromNs ? null : Number(toNs - fromNs) / 1e9;

export class Metrics {
  readonly registry = new Registry();
  private readonly submitted: Counter;
  private readonly finished: Counter<'state'>;
  private readonly queueSeconds: Histogram;
  private readonly acquireWaitSeconds: Histogram<'outcome'>;
  private readonly holdSeconds: Histogram;
  private readonly abandonedAcquisitions: Counter;
  private readonly eventSets: Counter<'source'>;
  private readonly byResource: Counter<'resource'>;
  private readonly leaseExpirations: Counter;
  private readonly published: Counter;
  private readonly overflows: Counter;
  private readonly limits: Counter<'limit'>;
  private readonly violations: Counter<'kind'>;
  private readonly httpRequests: Counter<'method' | 'route' | 'status_code'>;
  private readonly httpSeconds: Histogram<'method' | 'route' | 'status_code'>;

  constructor(info: { version: string; engine: string }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tpmutex_' });
    // prom-client names three gauges with a counter's `_total` suffix, which
    // `promtool check metrics` rejects; the same counts stay available by type
    // (tpmutex_nodejs_active_handles{type}, …_requests, …_resources), so sum() gives them.
    for (const total of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`tpmutex_nodejs_active_${total}_total`);
    const countHandles = processHandleCounter();
    if (countHandles !== undefined) {
      new Gauge({
        name: 'tpmutex_process_handles', help: 'Open OS handles of this process: the kernel handle count on Windows (GetProcessHandleCount), open file descriptors on Linux',
        registers, collect() { this.set(countHandles()); },
      });
    }
    new Gauge({
      name: 'tpmutex_heap_used_after_major_gc_bytes',
      help: 'JS heap used (young generation left out) as the last major garbage collection left it: what the process retains; rising under a steady load = a leak',
      registers, collect() { this.set(heapUsedAfterMajorGc()); },
    });
    new Gauge({ name: 'tpmutex_info', help: 'Always 1; the labels name the version and the engine', labelNames: ['version', 'engine'], registers })
      .set({ version: info.version, engine: info.engine }, 1);
    this.submitted = new Counter({ name: 'tpmutex_works_submitted_total', help: 'Works accepted (POST /v1/work answered 202, replays not counted)', registers });
    this.finished = new Counter({ name: 'tpmutex_works_finished_total', help: 'Works that reached a terminal state, by that state', labelNames: ['state'], registers });
    for (const state of TERMINAL_STATES) this.finished.inc({ state }, 0);
    this.queueSeconds = new Histogram({ name: 'tpmutex_work_queue_seconds', help: 'From submit to the callback starting on a pool thread', buckets: DURATION_BUCKETS, registers });
    this.acquireWaitSeconds = new Histogram({
      name: 'tpmutex_work_acquire_wait_seconds', help: 'From the callback starting to the end of its wait for the mutex, by outcome (acquired, timed_out, cancelled)',
      labelNames: ['outcome'], buckets: DURATION_BUCKETS, registers,
    });
    for (const outcome of ['acquired', 'timed_out', 'cancelled']) this.acquireWaitSeconds.zero({ outcome });
    this.holdSeconds = new Histogram({ name: 'tpmutex_work_hold_seconds', help: 'From acquired to released', buckets: DURATION_BUCKETS, registers });
    this.abandonedAcquisitions = new Counter({
      name: 'tpmutex_abandoned_acquisitions_total',
      help: 'Acquisitions that found the mutex abandoned (its previous owner thread or process ended holding it; WAIT_ABANDONED): what it guards may be half-updated',
      registers,
    });
    this.eventSets = new Counter({
      name: 'tpmutex_event_object_sets_total',
      help: 'Event objects set: by POST /v1/event-objects/{name}/set (source="api"), or by the pool when a work\'s callback returned (source="return": a `released` that lists set_event, or a work that timed out or was cancelled after its callback started)',
      labelNames: ['source'], registers,
    });
    for (const source of ['api', 'return']) this.eventSets.inc({ source }, 0);
    this.byResource = new Counter({
      name: 'tpmutex_works_submitted_by_resource_total',
      help: 'Works accepted, by what the callback acquires: mutex, semaphore, none (it only sets an event on return), abandon (POST /v1/mutexes/{name}/abandon)',
      labelNames: ['resource'], registers,
    });
    for (const resource of ['mutex', 'semaphore', 'none', 'abandon']) this.byResource.inc({ resource }, 0);
    this.leaseExpirations = new Counter({
      name: 'tpmutex_lease_expirations_total',
      help: 'Leases that ran out without a keepalive (the client went away or stalled): the service ended the hold or cancelled the wait',
      registers,
    });
    this.published = new Counter({ name: 'tpmutex_events_published_total', help: 'Events published to the event log (each has a seq)', registers });
    this.overflows = new Counter({
      name: 'tpmutex_sse_overflows_total',
      help: 'Event streams cut off with `event: overflow` for reading too slowly (the events were not lost: the client resumes with Last-Event-ID)',
      registers,
    });
    this.violations = new Counter({
      name: 'tpmutex_invariant_violations_total',
      help: 'Acquisitions the engine reported overlapping the previous holder (broken mutual exclusion), by kind; anything but 0 is a bug',
      labelNames: ['kind'], registers,
    });
    for (const kind of ['acquired_while_held', 'released_after_acquired', 'semaphore_over_maximum'] as const satisfies readonly InvariantViolation['kind'][]) this.violations.inc({ kind }, 0);
    this.limits = new Counter({ name: 'tpmutex_limit_exceeded_total', help: 'Requests refused because a configured limit was hit, by the setting\'s name', labelNames: ['limit'], registers });
    this.httpRequests = new Counter({ name: 'tpmutex_http_requests_total', help: 'HTTP requests answered, by method, route template and status', labelNames: ['method', 'route', 'status_code'], registers });
    this.httpSeconds = new Histogram({ name: 'tpmutex_http_request_duration_seconds', help: 'Time to answer an HTTP request (event streams not included)', labelNames: ['method', 'route', 'status_code'], registers });
  }

  /** Registers the gauges read at scrape time (after the services exist). */
  watch(source: MetricsSource): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    gauge('tpmutex_ready', '1 while the service is ready (as /readyz), else 0', () => (source.ready() ? 1 : 0));
    gauge('tpmutex_mutexes_open', 'Mutexes this service has a handle to', () => source.mutexes().open);
    gauge('tpmutex_mutexes_held', 'Open mutexes held by a work of this service now', () => source.mutexes().held);
    gauge('tpmutex_mutex_oldest_hold_seconds', 'How long the longest current hold by a work of this service has lasted (0 when none is held); alert on it to find a stuck holder',
      () => source.mutexes().oldestHoldSeconds);
    new Gauge({
      name: 'tpmutex_works_unfinished', help: 'Works not yet terminal, by state (queued, waiting, holding)', labelNames: ['state'], registers,
      collect() { for (const [state, n] of Object.entries(source.unfinished())) this.set({ state }, n); },
    });
    gauge('tpmutex_works_leased', 'Unfinished works (queued, waiting, holding) under a lease: each ends by itself if its client stops renewing it', () => source.leasedWorks());
    gauge('tpmutex_works_retained', 'Works the service keeps: unfinished ones and the finished ones WORK_HISTORY retains', () => source.retainedWorks());
    gauge('tpmutex_pool_threads', 'Threads in the callback pool', () => source.pool().threads);
    gauge('tpmutex_pool_active', 'Callbacks running now (waiting, spinning or holding)', () => source.pool().active);
    gauge('tpmutex_pool_queued', 'Works submitted to the pool whose callback has not started', () => source.pool().queued);
    gauge('tpmutex_pool_min_threads', 'Pool minimum threads', () => source.pool().minThreads);
    gauge('tpmutex_pool_max_threads', 'Pool maximum threads', () => source.pool().maxThreads);
    gauge('tpmutex_semaphores_open', 'Semaphores this service has a handle to', () => source.semaphores().open);
    gauge('tpmutex_semaphore_holders', 'Units of open semaphores held by works of this service now', () => source.semaphores().holders);
    gauge('tpmutex_event_objects_open', 'Event objects this service has a handle to', () => source.eventObjects());
    gauge('tpmutex_sse_subscribers', 'Open /v1/events streams', () => source.sseSubscribers());
  }

  /** One work transition (called once per published work event). */
  onTransition(work: WorkRecord, type: WorkEventType): void {
    switch (type) {
      case 'work.queued':
        this.submitted.inc();
        this.byResource.inc({ resource: work.request.operation === 'abandon' ? 'abandon' : work.request.mutex !== null ? 'mutex' : work.request.semaphore !== null ? 'semaphore' : 'none' });
        return;
      case 'work.started': this.observe(this.queueSeconds, seconds(work.queuedNs, work.startedNs)); return;
      case 'work.acquired':
        this.observeWait('acquired', seconds(work.startedNs, work.acquiredNs));
        if (work.abandoned === true) this.abandonedAcquisitions.inc();
        return;
      case 'work.returned': return;
      case 'work.lease_expired': this.leaseExpirations.inc(); return;
      case 'work.released': this.observe(this.holdSeconds, seconds(work.acquiredNs, work.releasedNs)); break;
      case 'work.abandoned': break;
      case 'work.timed_out': this.observeWait('timed_out', seconds(work.startedNs, work.endedNs)); break;
      // Cancelled after starting = the wait was aborted; cancelled while queued never waited.
      case 'work.cancelled': this.observeWait('cancelled', seconds(work.startedNs, work.endedNs)); break;
      case 'work.failed': break;
    }
    this.finished.inc({ state: type.slice('work.'.length) });
  }

  onEventPublished(): void { this.published.inc(); }
  onEventObjectSet(source: 'api' | 'return'): void { this.eventSets.inc({ source }); }
  onOverflow(): void { this.overflows.inc(); }
  onLimitExceeded(limit: string): void { this.limits.inc({ limit }); }
  onInvariantViolation(violation: InvariantViolation): void { this.violations.inc({ kind: violation.kind }); }

  /** `route` is the matched route's template, or null when no route matched. */
  onHttpResponse(method: string, route: string | null, statusCode: number, elapsedMs: number): void {
    const labels = {
      method: HTTP_METHODS.has(method) ? method : 'other',
      route: route ?? 'unmatched',
      status_code: statusCode >= 100 && statusCode <= 599 ? String(statusCode) : 'other',
    };
    this.httpRequests.inc(labels);
    this.httpSeconds.observe(labels, elapsedMs / 1000);
  }

  private observe(histogram: Histogram, value: number | null): void {
    if (value !== null) histogram.observe(value);
  }

  private observeWait(outcome: 'acquired' | 'timed_out' | 'cancelled', value: number | null): void {
    if (value !== null) this.acquireWaitSeconds.observe({ outcome }, value);
  }
}
