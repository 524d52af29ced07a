/**
 * The event objects this service has open: one engine handle each, their live state
 * from the engine probe (win32: NtQueryEvent), and set/reset on request. Like a
 * semaphore, an event object is opened only by PUT (it needs its type), never by a
 * work on first use: a work naming one that is not open gets `object-not-open`.
 */
import type { EventInit, EventOpened } from '../engine/types.js';
import { PutOpenedRegistry, type PutOpenedRecord, type PutOpenedRegistryOptions } from '../objects/put-opened-registry.js';
import type { EventObjectOpenBody, EventObjectView } from '../schemas/event-object.js';
import { KIND_NAMES } from '../objects/object-kinds.js';

export interface EventObjectRecord extends PutOpenedRecord {
  /** Unfinished works that set it on return: it cannot be closed while any. */
  pendingSetters: number;
  setsByApi: number;
  setsOnReturn: number;
  resetsByApi: number;
}

export interface EventObjectRegistryOptions extends PutOpenedRegistryOptions {
  maxEventObjects: number;
  /** A set by the API (counted in tpmutex_event_object_sets_total{source="api"}). */
  onSetByApi?: () => void;
}

export class EventObjectRegistry extends PutOpenedRegistry<EventObjectRecord, EventObjectView, EventObjectOpenBody, EventInit, EventOpened> {
  private readonly onSetByApi: (() => void) | undefined;

  constructor(options: EventObjectRegistryOptions) {
    super(options, {
      ...KIND_NAMES['event object'], opensWith: 'its type',
      limit: { setting: 'MAX_EVENT_OBJECTS', max: options.maxEventObjects },
      opened: 'event-object.opened', closed: 'event-object.closed',
    });
    this.onSetByApi = options.onSetByApi;
  }

  resolveInit(body: EventObjectOpenBody): EventInit {
    return { manualReset: body.manualReset ?? false, initialState: body.initialState ?? false };
  }

  protected openInEngine(name: string, init: EventInit): EventOpened { return this.options.engine.openEvent(name, init); }
  protected closeInEngine(name: string): void { this.options.engine.closeEvent(name); }

  protected createRecord(base: PutOpenedRecord): EventObjectRecord {
    return { ...base, pendingSetters: 0, setsByApi: 0, setsOnReturn: 0, resetsByApi: 0 };
  }

  protected inUse(record: EventObjectRecord): string | undefined {
    if (record.pendingSetters === 0) return undefined;
    return `event object ${JSON.stringify(record.name)} is set on return by ${record.pendingSetters} unfinished work; wait for it or cancel it first`;
  }

  protected payload(view: EventObjectView) { return { eventObject: view }; }

  set(name: string): EventObjectView {
    const record = this.require(name);
    this.options.engine.setEvent(record.name);
    record.setsByApi++;
    this.onSetByApi?.();
    const view = this.view(record);
    this.publish('event-object.set', record, { eventObject: view, source: 'api' });
    return view;
  }

  reset(name: string): EventObjectView {
    const record = this.require(name);
    this.options.engine.resetEvent(record.name);
    record.resetsByApi++;
    const view = this.view(record);
    this.publish('event-object.reset', record, { eventObject: view, source: 'api' });
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
}
