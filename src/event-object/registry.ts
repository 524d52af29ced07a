/**
 * The event objects this service has open: one engine handle each, their live state
 * from the engine probe (win32: NtQueryEvent), and set/reset on request. Like a
 * semaphore, an event object is opened only by PUT (it needs its type), never by a
 * work on first use: a work naming one that is not open gets `object-not-open`.
 */
import type { Clock } from '../clock.js';
import type { Engine, Ns } from '../engine/types.js';
import type { EventLog } from '../events/event-log.js';
import { normaliseName } from '../mutex/names.js';
import type { ObjectKinds } from '../objects/object-kinds.js';
import { ObjectTable, type ObjectRecordBase } from '../objects/object-table.js';
import type { EventObjectOpenBody, EventObjectView } from '../schemas/event-object.js';
import type { EventObjectEventType } from '../schemas/events.js';
import { limitExceeded, ServiceError } from '../service-error.js';

export interface EventObjectRecord extends ObjectRecordBase {
  readonly existed: boolean;
  readonly openedNs: Ns;
  /** Unfinished works that set it on return: it cannot be closed while any. */
  pendingSetters: number;
  setsByApi: number;
  setsOnReturn: number;
  resetsByApi: number;
}

export interface EventObjectRegistryOptions {
  engine: Engine;
  events: EventLog;
  clock: Clock;
  maxEventObjects: number;
  kinds: ObjectKinds;
  checkName?: (name: string) => void;
  /** A set by the API (counted in tpmutex_event_object_sets_total{source="api"}). */
  onSetByApi?: () => void;
}

export class EventObjectRegistry {
  private readonly table = new ObjectTable<EventObjectRecord>();

  constructor(private readonly options: EventObjectRegistryOptions) {
    options.kinds.register('event object', {
      has: (name) => this.table.get(name) !== undefined,
      hasKernelName: (kernelName) => this.table.byKernel(kernelName) !== undefined,
    });
  }

  static normalise(raw: string, field: string): string { return normaliseName(raw, field, 'event object'); }

  get size(): number { return this.table.size; }
  get(name: string): EventObjectRecord | undefined { return this.table.get(name); }
  all(): IterableIterator<EventObjectRecord> { return this.table.all(); }

  require(name: string): EventObjectRecord {
    const record = this.table.get(name);
    if (!record) throw new ServiceError('object-not-open', `event object ${JSON.stringify(name)} is not open in this service (PUT /v1/event-objects/{name} opens it with its type)`);
    return record;
  }

  open(name: string, body: EventObjectOpenBody): { record: EventObjectRecord; created: boolean } {
    const known = this.table.get(name);
    if (known) return { record: known, created: false };
    const { engine, kinds } = this.options;
    kinds.checkName(name, 'event object');
    this.options.checkName?.(name);
    if (this.table.size >= this.options.maxEventObjects) {
      throw limitExceeded('MAX_EVENT_OBJECTS', `${this.options.maxEventObjects} event objects are open; close one (DELETE /v1/event-objects/{name}) or raise MAX_EVENT_OBJECTS`, 5);
    }
    const opened = engine.openEvent(name, { manualReset: body.manualReset ?? false, initialState: body.initialState ?? false });
    const same = this.table.byKernel(opened.kernelName);
    if (same) {
      engine.closeEvent(name);
      this.table.addAlias(same, name);
      return { record: same, created: false };
    }
    try {
      kinds.checkKernelName(name, opened.kernelName, 'event object');
    } catch (err) {
      engine.closeEvent(name);
      throw err;
    }
    const record: EventObjectRecord = {
      seq: this.table.nextSeq(), name, kernelName: opened.kernelName, aliases: [],
      existed: opened.existed, openedNs: this.options.clock.nowNs(),
      pendingSetters: 0, setsByApi: 0, setsOnReturn: 0, resetsByApi: 0,
    };
    this.table.add(record);
    this.publish('event-object.opened', record);
    return { record, created: !opened.existed };
  }

  close(name: string): void {
    const record = this.require(name);
    if (record.pendingSetters > 0) {
      throw new ServiceError('object-in-use', `event object ${JSON.stringify(name)} is set on return by ${record.pendingSetters} unfinished work; wait for it or cancel it first`);
    }
    const view = this.view(record);
    this.options.engine.closeEvent(record.name);
    this.table.remove(record);
    this.publish('event-object.closed', record, view);
  }

  set(name: string): EventObjectView {
    const record = this.require(name);
    this.options.engine.setEvent(record.name);
    record.setsByApi++;
    this.options.onSetByApi?.();
    const view = this.view(record);
    this.publish('event-object.set', record, view);
    return view;
  }

  reset(name: string): EventObjectView {
    const record = this.require(name);
    this.options.engine.resetEvent(record.name);
    record.resetsByApi++;
    const view = this.view(record);
    this.publish('event-object.reset', record, view);
    return view;
  }

  view(record: EventObjectRecord): EventObjectView {
    const probe = this.options.engine.probeEvent(record.name);
    return {
      name: record.name,
      aliases: [...record.aliases],
      kernelName: record.kernelName,
      signaled: probe.signaled,
      manualReset: probe.manualReset,
      existed: record.existed,
      openedAt: this.options.clock.iso(record.openedNs),
      counters: { setsByApi: record.setsByApi, setsOnReturn: record.setsOnReturn, resetsByApi: record.resetsByApi, pendingSetters: record.pendingSetters },
    };
  }

  list(limit: number, cursor: string | undefined): { items: EventObjectView[]; nextCursor: string | null } {
    return this.table.page(limit, cursor, (record) => this.view(record));
  }

  private publish(type: EventObjectEventType, record: EventObjectRecord, view: EventObjectView = this.view(record)): void {
    const payload = type === 'event-object.set' || type === 'event-object.reset' ? { eventObject: view, source: 'api' as const } : { eventObject: view };
    this.options.events.publish(type, this.options.clock.nowIso(), payload, { mutex: record.name, workId: null });
  }
}
