/**
 * The open objects of one kind (mutexes, semaphores or event objects): records by name,
 * by alias and by kernel name, in opening order for paged lists. A record is one kernel
 * object, not one spelling: a second name with the same kernel name (in session 0,
 * `Local\x` and `Global\x`) becomes an alias of the first record.
 */
import { invalid } from '../service-error.js';
import { decodeCursor, encodeCursor } from '../list-cursor.js';

export interface ObjectRecordBase {
  readonly seq: number;
  /** The spelling it was first opened under; the engine's handle has this name. */
  readonly name: string;
  readonly kernelName: string;
  /**
   * Other spellings opened since that name the same object, in opening order. An array,
   * not a Set: almost every record has none, and an empty Set costs ~140 B per record.
   */
  readonly aliases: string[];
}

export class ObjectTable<R extends ObjectRecordBase> {
  private readonly byName = new Map<string, R>();
  private readonly byAlias = new Map<string, R>();
  private readonly byKernelName = new Map<string, R>();
  private lastSeq = 0;

  get size(): number { return this.byName.size; }
  nextSeq(): number { return ++this.lastSeq; }
  get(name: string): R | undefined { return this.byName.get(name) ?? this.byAlias.get(name); }
  byKernel(kernelName: string): R | undefined { return this.byKernelName.get(kernelName); }
  all(): IterableIterator<R> { return this.byName.values(); }

  add(record: R): void {
    this.byName.set(record.name, record);
    this.byKernelName.set(record.kernelName, record);
  }

  /** `alias` must not be known here yet (the registries look it up first). */
  addAlias(record: R, alias: string): void {
    record.aliases.push(alias);
    this.byAlias.set(alias, record);
  }

  remove(record: R): void {
    this.byName.delete(record.name);
    this.byKernelName.delete(record.kernelName);
    for (const alias of record.aliases) this.byAlias.delete(alias);
  }

  /** One page in opening order. */
  page<V>(limit: number, cursor: string | undefined, view: (record: R) => V): { items: V[]; nextCursor: string | null } {
    const after = decodeCursor(cursor, this.lastSeq);
    if (after === null) throw invalid([{ field: 'query/cursor', message: 'is not a cursor this service issued' }]);
    const items: V[] = [];
    let last: R | undefined;
    let more = false;
    for (const record of this.byName.values()) {
      if (record.seq <= after) continue;
      if (items.length === limit) { more = true; break; }
      items.push(view(record));
      last = record;
    }
    return { items, nextCursor: more && last ? encodeCursor(last.seq) : null };
  }
}
