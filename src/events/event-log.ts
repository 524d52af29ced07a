/**
 * One ordered sequence of events for the whole process. Each event gets the next
 * `seq` when published and is serialised at most once, as its SSE frame, when first
 * read; the last `capacity` events stay in a ring buffer for resume (Last-Event-ID /
 * ?after=).
 */
import { randomBytes } from 'node:crypto';
import type { EventType } from '../schemas/events.js';
import type { EventObjectView } from '../schemas/event-object.js';
import type { MutexView } from '../schemas/mutex.js';
import type { SemaphoreView } from '../schemas/semaphore.js';
import type { WorkView } from '../schemas/work.js';

export type EventPayload = { work: WorkView } | { mutex: MutexView } | { semaphore: SemaphoreView } | { eventObject: EventObjectView; source?: 'api' };
export type EventListener = (event: LoggedEvent) => void;
/** A value now, or how to make it when it is first needed. */
export type Lazy<T> = T | (() => T);

const force = <T>(value: Lazy<T>): T => (typeof value === 'function' ? (value as () => T)() : value);

/**
 * One published event. Its frame is serialised on first use (a subscriber or a resume
 * reads it) and then kept: on a busy service with no one reading the stream, most events
 * are never serialised at all, and each is serialised at most once however many read it.
 *
 * What the frame is made of is kept in fields, not in a render closure: the closure and
 * its context cost ~130 B per buffered event (a full buffer of 10,000, ~1.3 MB), the
 * fields ~24 B.
 */
export class LoggedEvent {
  private rendered: string | undefined;
  // Dropped once rendered: what they captured can go.
  private at: Lazy<string> | undefined;
  private payload: Lazy<EventPayload> | undefined;

  constructor(
    private readonly boot: string,
    readonly seq: number,
    readonly type: EventType,
    /** For filters: the normalised object name (a mutex, semaphore or event object) and (work events) the work id. */
    readonly mutex: string,
    readonly workId: string | null,
    at: Lazy<string>,
    payload: Lazy<EventPayload>,
  ) {
    this.at = at;
    this.payload = payload;
  }

  /** The complete SSE frame, `id:`, `event:`, `data:` and the blank line. */
  get frame(): string {
    if (this.rendered === undefined) {
      const { boot, seq, type } = this;
      this.rendered = `id: ${boot}-${seq}\nevent: ${type}\ndata: ${JSON.stringify({ seq, type, at: force(this.at!), ...force(this.payload!) })}\n\n`;
      this.at = undefined;
      this.payload = undefined;
    }
    return this.rendered;
  }
}

export type Replay =
  | { kind: 'ok'; events: LoggedEvent[] }
  /** The client's position is not in this buffer (older, or another boot): it must reset. */
  | { kind: 'gap'; events: LoggedEvent[]; reason: string };

export class EventLog {
  /** Identifies this server process; event ids are `<boot>-<seq>`. */
  readonly boot: string;
  private readonly ring: (LoggedEvent | undefined)[];
  private nextSeq = 1;
  private readonly listeners = new Set<EventListener>();

  constructor(readonly capacity: number, boot: string = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x')) {
    this.boot = boot;
    this.ring = new Array<LoggedEvent | undefined>(capacity);
  }

  get lastSeq(): number { return this.nextSeq - 1; }

  /** Oldest seq still in the buffer (lastSeq + 1 when empty). */
  get oldestSeq(): number { return Math.max(1, this.nextSeq - this.capacity); }

  /**
   * `at` and `payload` may be given as functions, called when the frame is first needed;
   * they must then capture the state as of now (a snapshot), not read it later.
   */
  publish(type: EventType, at: Lazy<string>, payload: Lazy<EventPayload>, filterKeys: { mutex: string; workId: string | null }): LoggedEvent {
    const seq = this.nextSeq++;
    const event = new LoggedEvent(this.boot, seq, type, filterKeys.mutex, filterKeys.workId, at, payload);
    this.ring[seq % this.capacity] = event;
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Events with seq > after, or a gap when some of them are no longer buffered. */
  after(after: number): Replay {
    const from = after + 1;
    if (after > this.lastSeq) return { kind: 'gap', events: this.range(this.oldestSeq), reason: `seq ${after} was never issued by this server process (last is ${this.lastSeq})` };
    if (from < this.oldestSeq) return { kind: 'gap', events: this.range(this.oldestSeq), reason: `events after ${after} are no longer buffered (oldest is ${this.oldestSeq})` };
    return { kind: 'ok', events: this.range(from) };
  }

  /** The event with this seq while it is buffered. */
  get(seq: number): LoggedEvent | undefined {
    if (seq < this.oldestSeq || seq > this.lastSeq) return undefined;
    return this.ring[seq % this.capacity];
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  get subscriberCount(): number { return this.listeners.size; }

  private range(from: number): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    for (let seq = from; seq <= this.lastSeq; seq++) {
      const event = this.ring[seq % this.capacity];
      if (event) out.push(event);
    }
    return out;
  }
}
