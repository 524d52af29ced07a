/**
 * The mutexes this service has open: one engine handle each, plus what the service
 * knows about them (its own holder, waiters, counters). Live state comes from the
 * engine probe, so a mutex held by another process reads `held`.
 *
 * A record is one kernel object, not one spelling: two names with the same kernel name
 * (in session 0, `Local\x` and `Global\x`) are one mutex, so the second name becomes an
 * alias of the first record — one holder, one queue, one fencing sequence — and the
 * engine keeps a single handle, opened under the record's name (the first spelling).
 */
import type { Clock } from '../clock.js';
import type { Engine, Ns } from '../engine/types.js';
import type { EventLog } from '../events/event-log.js';
import type { MutexView } from '../schemas/mutex.js';
import { limitExceeded, ServiceError } from '../service-error.js';
import type { ObjectKinds } from '../objects/object-kinds.js';
import { ObjectTable, type ObjectRecordBase } from '../objects/object-table.js';
import { normaliseName } from './names.js';

/** kernelName (e.g. `\Sessions\1\BaseNamedObjects\x`) is what makes two names one mutex; aliases are the other spellings opened since. */
export interface MutexRecord extends ObjectRecordBase {
  readonly existed: boolean;
  readonly openedNs: Ns;
  /** The work of this service that owns it (between acquired and released). */
  holder: { workId: string; threadId: number; sinceNs: Ns } | null;
  /** The last `released` of a work on it: the next acquisition must not be stamped earlier. */
  lastRelease: { workId: string; atNs: Ns } | null;
  queued: number;
  waiting: number;
  /** Unfinished works (queued + waiting + holding): a mutex in use cannot be closed. */
  unfinished: number;
  fencingToken: number;
  acquisitions: number;
  abandonedAcquisitions: number;
  timeouts: number;
}

export interface OpenResult { record: MutexRecord; created: boolean; existedBefore: boolean }

export class MutexRegistry {
  private readonly table = new ObjectTable<MutexRecord>();
  /** The last fencing token of closed mutexes, so a reopened one shows no smaller token. */
  private readonly closedTokens = new Map<string, number>();

  constructor(
    private readonly engine: Engine,
    private readonly events: EventLog,
    private readonly clock: Clock,
    private readonly maxMutexes: number,
    /** Throws the refusal of a name this service may not open (src/policy). */
    private readonly checkName: (name: string) => void = () => {},
    /** The other kinds' registries: a name open as a semaphore or event object is refused. */
    private readonly kinds?: ObjectKinds,
  ) {
    kinds?.register('mutex', { has: (name) => this.get(name) !== undefined, hasKernelName: (k) => this.table.byKernel(k) !== undefined });
  }

  get size(): number { return this.table.size; }

  /** Normalises a name from a request or throws a validation error naming the field. */
  static normalise(raw: string, field: string): string { return normaliseName(raw, field, 'mutex'); }

  /** The record of a name or of an alias. */
  get(name: string): MutexRecord | undefined { return this.table.get(name); }

  /** The record's name for a name or alias it knows, else the name as given (for filters). */
  canonical(name: string): string { return this.get(name)?.name ?? name; }

  require(name: string): MutexRecord {
    const record = this.get(name);
    if (!record) throw new ServiceError('mutex-not-open', `mutex ${JSON.stringify(name)} is not open in this service (PUT /v1/mutexes/{name} opens it)`);
    return record;
  }

  open(name: string): OpenResult {
    const known = this.get(name);
    if (known) return { record: known, created: false, existedBefore: true };
    this.kinds?.checkName(name, 'mutex');
    this.checkName(name);
    if (this.table.size >= this.maxMutexes) {
      throw limitExceeded('MAX_MUTEXES', `${this.maxMutexes} mutexes are open; close one (DELETE /v1/mutexes/{name}) or raise MAX_MUTEXES`, 5);
    }
    const { existed, kernelName } = this.engine.openMutex(name);
    const same = this.table.byKernel(kernelName);
    if (same) {
      // Another spelling of an open mutex: one handle is enough, and a second record
      // would start a second holder, queue and fencing sequence for the same object.
      this.engine.closeMutex(name);
      this.table.addAlias(same, name);
      return { record: same, created: false, existedBefore: true };
    }
    try {
      this.kinds?.checkKernelName(name, kernelName, 'mutex');
    } catch (err) {
      this.engine.closeMutex(name);
      throw err;
    }
    const record: MutexRecord = {
      seq: this.table.nextSeq(),
      name,
      kernelName,
      aliases: [],
      existed,
      openedNs: this.clock.nowNs(),
      holder: null,
      lastRelease: null,
      queued: 0,
      waiting: 0,
      unfinished: 0,
      fencingToken: this.closedTokens.get(kernelName) ?? 0,
      acquisitions: 0,
      abandonedAcquisitions: 0,
      timeouts: 0,
    };
    this.table.add(record);
    this.publish('mutex.opened', record);
    return { record, created: !existed, existedBefore: existed };
  }

  close(name: string): MutexView {
    const record = this.require(name);
    if (record.unfinished > 0) {
      throw new ServiceError('mutex-in-use', `mutex ${JSON.stringify(name)} has ${record.unfinished} unfinished work (queued ${record.queued}, waiting ${record.waiting}, holding ${record.holder ? 1 : 0}); cancel it first`);
    }
    const view = this.view(record);
    this.engine.closeMutex(record.name);
    this.table.remove(record);
    this.closedTokens.set(record.kernelName, record.fencingToken);
    this.publish('mutex.closed', record, view);
    return view;
  }

  view(record: MutexRecord): MutexView {
    const probe = this.engine.probeMutex(record.name);
    const holder = record.holder;
    return {
      name: record.name,
      aliases: [...record.aliases],
      kernelName: record.kernelName,
      boot: this.events.boot,
      state: probe.state,
      holder: holder === null ? null : {
        workId: holder.workId,
        threadId: holder.threadId,
        since: this.clock.iso(holder.sinceNs),
        sinceNs: holder.sinceNs.toString(),
      },
      waiting: record.waiting,
      queued: record.queued,
      fencingToken: record.fencingToken,
      existed: record.existed,
      openedAt: this.clock.iso(record.openedNs),
      counters: {
        acquisitions: record.acquisitions,
        abandonedAcquisitions: record.abandonedAcquisitions,
        timeouts: record.timeouts,
      },
    };
  }

  list(limit: number, cursor: string | undefined): { items: MutexView[]; nextCursor: string | null } {
    return this.table.page(limit, cursor, (record) => this.view(record));
  }

  all(): IterableIterator<MutexRecord> { return this.table.all(); }

  private publish(type: 'mutex.opened' | 'mutex.closed', record: MutexRecord, view: MutexView = this.view(record)): void {
    this.events.publish(type, this.clock.nowIso(), { mutex: view }, { mutex: record.name, workId: null });
  }
}
