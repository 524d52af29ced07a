/**
 * The semaphores this service has open: one engine handle each, plus what the service
 * knows (its own holders, waiters, counters). `count` comes live from the engine probe
 * (win32: NtQuerySemaphore), so units held by other processes show too.
 *
 * Unlike a mutex, a semaphore is never opened by a work on first use: it needs its
 * counts, so PUT /v1/semaphores/{name} opens it and a work naming one that is not
 * open gets `object-not-open`.
 */
import type { Ns, SemaphoreInit, SemaphoreOpened } from '../engine/types.js';
import { PutOpenedRegistry, type PutOpenedRecord, type PutOpenedRegistryOptions } from '../objects/put-opened-registry.js';
import type { ValidationIssue } from '../schemas/common.js';
import type { SemaphoreOpenBody, SemaphoreView } from '../schemas/semaphore.js';
import { invalid } from '../service-error.js';
import { KIND_NAMES } from '../objects/object-kinds.js';

export interface SemaphoreHolder { threadId: number; sinceNs: Ns }

export interface SemaphoreRecord extends PutOpenedRecord {
  readonly maximumCount: number;
  /** Works of this service holding a unit, in acquisition order. */
  readonly holders: Map<string, SemaphoreHolder>;
  queued: number;
  waiting: number;
  /** Unfinished works (queued + waiting + holding): it cannot be closed while any. */
  unfinished: number;
  acquisitions: number;
  timeouts: number;
}

export interface SemaphoreRegistryOptions extends PutOpenedRegistryOptions {
  maxSemaphores: number;
  maxSemaphoreCount: number;
}

export class SemaphoreRegistry extends PutOpenedRegistry<SemaphoreRecord, SemaphoreView, SemaphoreOpenBody, SemaphoreInit, SemaphoreOpened> {
  private readonly maxSemaphoreCount: number;

  constructor(options: SemaphoreRegistryOptions) {
    super(options, {
      ...KIND_NAMES.semaphore, opensWith: 'its counts',
      limit: { setting: 'MAX_SEMAPHORES', max: options.maxSemaphores },
      opened: 'semaphore.opened', closed: 'semaphore.closed',
    });
    this.maxSemaphoreCount = options.maxSemaphoreCount;
  }

  /** The counts of a PUT body, checked (every bad field at once), defaults 1/1. */
  resolveInit(body: SemaphoreOpenBody): SemaphoreInit {
    const maximumCount = body.maximumCount ?? 1;
    const initialCount = body.initialCount ?? Math.min(1, maximumCount);
    const issues: ValidationIssue[] = [];
    const max = this.maxSemaphoreCount;
    if (maximumCount < 1 || maximumCount > max) issues.push({ field: 'body/maximumCount', message: `must be between 1 and ${max} (MAX_SEMAPHORE_COUNT)` });
    if (initialCount < 0) issues.push({ field: 'body/initialCount', message: 'must be >= 0' });
    else if (initialCount > maximumCount) issues.push({ field: 'body/initialCount', message: `must not exceed maximumCount (${maximumCount})` });
    if (issues.length > 0) throw invalid(issues);
    return { initialCount, maximumCount };
  }

  protected openInEngine(name: string, init: SemaphoreInit): SemaphoreOpened { return this.options.engine.openSemaphore(name, init); }
  protected closeInEngine(name: string): void { this.options.engine.closeSemaphore(name); }

  protected createRecord(base: PutOpenedRecord, opened: SemaphoreOpened): SemaphoreRecord {
    return { ...base, maximumCount: opened.maximumCount, holders: new Map(), queued: 0, waiting: 0, unfinished: 0, acquisitions: 0, timeouts: 0 };
  }

  protected inUse(record: SemaphoreRecord): string | undefined {
    if (record.unfinished === 0) return undefined;
    return `semaphore ${JSON.stringify(record.name)} has ${record.unfinished} unfinished work (queued ${record.queued}, waiting ${record.waiting}, holding ${record.holders.size}); cancel it first`;
  }

  protected payload(view: SemaphoreView) { return { semaphore: view }; }

  view(record: SemaphoreRecord): SemaphoreView {
    const { clock } = this.options;
    const probe = this.options.engine.probeSemaphore(record.name);
    return {
      name: record.name,
      aliases: [...record.aliases],
      kernelName: record.kernelName,
      count: probe.count,
      maximumCount: probe.maximumCount,
      existed: record.existed,
      openedAt: clock.iso(record.openedNs),
      holders: [...record.holders].map(([workId, h]) => ({ workId, threadId: h.threadId, since: clock.iso(h.sinceNs), sinceNs: h.sinceNs.toString() })),
      waiting: record.waiting,
      queued: record.queued,
      counters: { acquisitions: record.acquisitions, timeouts: record.timeouts },
    };
  }
}
