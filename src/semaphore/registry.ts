/**
 * The semaphores this service has open: one engine handle each, plus what the service
 * knows (its own holders, waiters, counters). `count` comes live from the engine probe
 * (win32: NtQuerySemaphore), so units held by other processes show too.
 *
 * Unlike a mutex, a semaphore is never opened by a work on first use: it needs its
 * counts, so PUT /v1/semaphores/{name} opens it and a work naming one that is not
 * open gets `object-not-open`.
 */
import type { Clock } from '../clock.js';
import type { Engine, Ns } from '../engine/types.js';
import type { EventLog } from '../events/event-log.js';
import { normaliseName } from '../mutex/names.js';
import type { ObjectKinds } from '../objects/object-kinds.js';
import { ObjectTable, type ObjectRecordBase } from '../objects/object-table.js';
import type { SemaphoreEventType } from '../schemas/events.js';
import type { SemaphoreOpenBody, SemaphoreView } from '../schemas/semaphore.js';
import { invalid, limitExceeded, ServiceError } from '../service-error.js';
import type { ValidationIssue } from '../schemas/common.js';

export interface SemaphoreHolder { threadId: number; sinceNs: Ns }

export interface SemaphoreRecord extends ObjectRecordBase {
  readonly existed: boolean;
  readonly openedNs: Ns;
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

export interface SemaphoreOpenResult { record: SemaphoreRecord; created: boolean }

export interface SemaphoreRegistryOptions {
  engine: Engine;
  events: EventLog;
  clock: Clock;
  maxSemaphores: number;
  maxSemaphoreCount: number;
  kinds: ObjectKinds;
  /** Throws the refusal of a name this service may not open (src/policy). */
  checkName?: (name: string) => void;
}

export class SemaphoreRegistry {
  private readonly table = new ObjectTable<SemaphoreRecord>();

  constructor(private readonly options: SemaphoreRegistryOptions) {
    options.kinds.register('semaphore', {
      has: (name) => this.table.get(name) !== undefined,
      hasKernelName: (kernelName) => this.table.byKernel(kernelName) !== undefined,
    });
  }

  static normalise(raw: string, field: string): string { return normaliseName(raw, field, 'semaphore'); }

  get size(): number { return this.table.size; }
  get(name: string): SemaphoreRecord | undefined { return this.table.get(name); }
  all(): IterableIterator<SemaphoreRecord> { return this.table.all(); }

  require(name: string): SemaphoreRecord {
    const record = this.table.get(name);
    if (!record) throw new ServiceError('object-not-open', `semaphore ${JSON.stringify(name)} is not open in this service (PUT /v1/semaphores/{name} opens it with its counts)`);
    return record;
  }

  /** The counts of a PUT body, checked (every bad field at once), defaults 1/1. */
  resolveInit(body: SemaphoreOpenBody): { initialCount: number; maximumCount: number } {
    const maximumCount = body.maximumCount ?? 1;
    const initialCount = body.initialCount ?? Math.min(1, maximumCount);
    const issues: ValidationIssue[] = [];
    const max = this.options.maxSemaphoreCount;
    if (maximumCount < 1 || maximumCount > max) issues.push({ field: 'body/maximumCount', message: `must be between 1 and ${max} (MAX_SEMAPHORE_COUNT)` });
    if (initialCount < 0) issues.push({ field: 'body/initialCount', message: 'must be >= 0' });
    else if (initialCount > maximumCount) issues.push({ field: 'body/initialCount', message: `must not exceed maximumCount (${maximumCount})` });
    if (issues.length > 0) throw invalid(issues);
    return { initialCount, maximumCount };
  }

  open(name: string, body: SemaphoreOpenBody): SemaphoreOpenResult {
    const init = this.resolveInit(body);
    const known = this.table.get(name);
    if (known) return { record: known, created: false };
    const { engine, kinds } = this.options;
    kinds.checkName(name, 'semaphore');
    this.options.checkName?.(name);
    if (this.table.size >= this.options.maxSemaphores) {
      throw limitExceeded('MAX_SEMAPHORES', `${this.options.maxSemaphores} semaphores are open; close one (DELETE /v1/semaphores/{name}) or raise MAX_SEMAPHORES`, 5);
    }
    const opened = engine.openSemaphore(name, init);
    const same = this.table.byKernel(opened.kernelName);
    if (same) {
      engine.closeSemaphore(name);
      this.table.addAlias(same, name);
      return { record: same, created: false };
    }
    try {
      kinds.checkKernelName(name, opened.kernelName, 'semaphore');
    } catch (err) {
      engine.closeSemaphore(name);
      throw err;
    }
    const record: SemaphoreRecord = {
      seq: this.table.nextSeq(), name, kernelName: opened.kernelName, aliases: [],
      existed: opened.existed, openedNs: this.options.clock.nowNs(), maximumCount: opened.maximumCount,
      holders: new Map(), queued: 0, waiting: 0, unfinished: 0, acquisitions: 0, timeouts: 0,
    };
    this.table.add(record);
    this.publish('semaphore.opened', record);
    return { record, created: !opened.existed };
  }

  close(name: string): void {
    const record = this.require(name);
    if (record.unfinished > 0) {
      throw new ServiceError('object-in-use', `semaphore ${JSON.stringify(name)} has ${record.unfinished} unfinished work (queued ${record.queued}, waiting ${record.waiting}, holding ${record.holders.size}); cancel it first`);
    }
    const view = this.view(record);
    this.options.engine.closeSemaphore(record.name);
    this.table.remove(record);
    this.publish('semaphore.closed', record, view);
  }

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

  list(limit: number, cursor: string | undefined): { items: SemaphoreView[]; nextCursor: string | null } {
    return this.table.page(limit, cursor, (record) => this.view(record));
  }

  private publish(type: SemaphoreEventType, record: SemaphoreRecord, view: SemaphoreView = this.view(record)): void {
    this.options.events.publish(type, this.options.clock.nowIso(), { semaphore: view }, { mutex: record.name, workId: null });
  }
}
