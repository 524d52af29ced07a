/**
 * A registry of the objects of a kind that only PUT opens (semaphores, event objects):
 * opening one needs what only the PUT body gives (counts, a type), so a work naming
 * one that is not open gets `object-not-open` instead of opening it. Opening, closing,
 * the refusals and the opened/closed events go alike for every such kind; a subclass
 * says how the engine opens, closes and probes its objects, what its record keeps and
 * when it is in use.
 */
import type { Clock } from '../clock.js';
import type { Engine, MutexOpened, Ns } from '../engine/types.js';
import type { EventLog, EventPayload } from '../events/event-log.js';
import type { EventType } from '../schemas/events.js';
import { limitExceeded, ServiceError } from '../service-error.js';
import type { ObjectKindNames, ObjectKinds } from './object-kinds.js';
import { ObjectTable, type ObjectRecordBase } from './object-table.js';

export interface PutOpenedRecord extends ObjectRecordBase {
  /** It existed in the OS before this service opened it (then the PUT body was ignored). */
  readonly existed: boolean;
  readonly openedNs: Ns;
}

export interface PutOpenedRegistryOptions {
  engine: Engine;
  events: EventLog;
  clock: Clock;
  kinds: ObjectKinds;
  /** Throws the refusal of a name this service may not open (src/policy). */
  checkName?: (name: string) => void;
}

/** How a kind names itself in refusals and events. */
export interface PutOpenedKind extends ObjectKindNames {
  readonly kind: 'semaphore' | 'event object';
  /** What its PUT body gives, e.g. `its counts`. */
  readonly opensWith: string;
  /** The setting that bounds how many are open at once, and its value. */
  readonly limit: { readonly setting: string; readonly max: number };
  readonly opened: EventType;
  readonly closed: EventType;
}

/**
 * R: the record; V: its API view; Body: the PUT body; Init: that body checked, with its
 * defaults; Opened: what the engine answers when it opens one.
 */
export abstract class PutOpenedRegistry<R extends PutOpenedRecord, V, Body, Init, Opened extends MutexOpened> {
  private readonly table = new ObjectTable<R>();

  constructor(protected readonly options: PutOpenedRegistryOptions, private readonly kind: PutOpenedKind) {
    options.kinds.register(kind.kind, {
      has: (name) => this.table.get(name) !== undefined,
      hasKernelName: (kernelName) => this.table.byKernel(kernelName) !== undefined,
    });
  }

  /** The PUT body checked (a validation error names every bad field), with its defaults. */
  abstract resolveInit(body: Body): Init;
  protected abstract openInEngine(name: string, init: Init): Opened;
  protected abstract closeInEngine(name: string): void;
  /** A new record: `base` and what the kind keeps from `opened`. */
  protected abstract createRecord(base: PutOpenedRecord, opened: Opened): R;
  /** Why it cannot be closed now (the `object-in-use` detail), or undefined when it can. */
  protected abstract inUse(record: R): string | undefined;
  /** The event payload that carries a view of this kind. */
  protected abstract payload(view: V): EventPayload;
  abstract view(record: R): V;

  get size(): number { return this.table.size; }
  get(name: string): R | undefined { return this.table.get(name); }
  all(): IterableIterator<R> { return this.table.all(); }

  require(name: string): R {
    const record = this.table.get(name);
    if (!record) {
      const { kind, path, opensWith } = this.kind;
      throw new ServiceError('object-not-open', `${kind} ${JSON.stringify(name)} is not open in this service (PUT ${path}/{name} opens it with ${opensWith})`);
    }
    return record;
  }

  open(name: string, body: Body): { record: R; created: boolean } {
    // A bad body is refused even when the object is open already.
    const init = this.resolveInit(body);
    const known = this.table.get(name);
    if (known) return { record: known, created: false };
    const { kinds, clock } = this.options;
    const { kind, plural, path, limit } = this.kind;
    kinds.checkName(name, kind);
    this.options.checkName?.(name);
    if (this.table.size >= limit.max) {
      throw limitExceeded(limit.setting, `${limit.max} ${plural} are open; close one (DELETE ${path}/{name}) or raise ${limit.setting}`, 5);
    }
    const opened = this.openInEngine(name, init);
    const same = this.table.byKernel(opened.kernelName);
    if (same) {
      // Another spelling of an open object: one handle and one record are enough.
      this.closeInEngine(name);
      this.table.addAlias(same, name);
      return { record: same, created: false };
    }
    try {
      kinds.checkKernelName(name, opened.kernelName, kind);
    } catch (err) {
      this.closeInEngine(name);
      throw err;
    }
    const record = this.createRecord({
      seq: this.table.nextSeq(), name, kernelName: opened.kernelName, aliases: [],
      existed: opened.existed, openedNs: clock.nowNs(),
    }, opened);
    this.table.add(record);
    this.publish(this.kind.opened, record);
    return { record, created: !opened.existed };
  }

  close(name: string): void {
    const record = this.require(name);
    const busy = this.inUse(record);
    if (busy !== undefined) throw new ServiceError('object-in-use', busy);
    const view = this.view(record);
    this.closeInEngine(record.name);
    this.table.remove(record);
    this.publish(this.kind.closed, record, this.payload(view));
  }

  list(limit: number, cursor: string | undefined): { items: V[]; nextCursor: string | null } {
    return this.table.page(limit, cursor, (record) => this.view(record));
  }

  protected publish(type: EventType, record: R, payload: EventPayload = this.payload(this.view(record))): void {
    this.options.events.publish(type, this.options.clock.nowIso(), payload, { mutex: record.name, workId: null });
  }
}
