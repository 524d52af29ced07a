/**
 * Server-Sent Events for /v1/events. Each stream replays what the client missed,
 * then follows the event log live. A stream never skips an event silently: a client
 * whose position is no longer buffered gets `event: reset` first, and a client too
 * slow to keep up gets `event: overflow` and is disconnected, to resume with
 * Last-Event-ID.
 *
 * A stream keeps no queue of its own: it reads from the event log's ring buffer at
 * its own position, writing while the socket takes data and pausing for 'drain'
 * when it does not. So a resume of thousands of events flows at the client's pace,
 * and a slow client costs one position, not a copy of the backlog. It is cut off
 * when, while paused, more than maxBufferedBytes of new events pile up for it, or
 * when the events it still needs are about to leave the ring buffer.
 *
 * Writes are coalesced: a publish only schedules one flush, which writes each stream
 * everything it has not sent yet as one chunk (one socket write per subscriber per
 * flush, not per event). The flush runs in the same event-loop turn (setImmediate)
 * unless the previous one was expensive: flushes are spaced so that writing to
 * subscribers takes at most FLUSH_DUTY of the main thread. With one subscriber a
 * flush costs microseconds and every event leaves at once; with hundreds, a flush
 * costs milliseconds, so events gather for about as long and go out in fewer, larger
 * writes — latency grows with the fan-out while the service keeps serving requests.
 */
import type { ServerResponse } from 'node:http';
import type { EventLog, LoggedEvent } from './event-log.js';
import type { EventType } from '../schemas/events.js';

export interface EventFilter {
  mutex?: string;
  workId?: string;
  types?: ReadonlySet<EventType>;
}

/** Where a new stream starts. */
export type StreamStart =
  | { kind: 'live' }
  | { kind: 'after'; seq: number }
  /** The client's id is from another server process: reset, then all that is buffered. */
  | { kind: 'foreign'; reason: string };

export interface SseHubOptions {
  heartbeatMs: number;
  maxBufferedBytes: number;
  /** Called when a stream is cut off for being slow (metrics). */
  onOverflow?: () => void;
}

function matches(filter: EventFilter, event: LoggedEvent): boolean {
  if (filter.mutex !== undefined && event.mutex !== filter.mutex) return false;
  if (filter.workId !== undefined && event.workId !== filter.workId) return false;
  if (filter.types !== undefined && !filter.types.has(event.type)) return false;
  return true;
}

const controlFrame = (type: 'reset' | 'overflow', data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** Share of the main thread that flushing to subscribers may take under load. */
const FLUSH_DUTY = 0.5;
/** Flushes that take less than this are not spaced out. */
const SPACED_FLUSH_MS = 1;

/** Unsent bytes in the socket's user-space buffer above which a stream pauses for 'drain'. */
const HIGH_WATER_BYTES = 64 * 1024;

/** Frames [from, endSeq) that match a filter, ready to write; data is '' when none matched. */
interface Chunk { readonly data: string | Buffer; readonly endSeq: number }

/**
 * The matching frames from `from` on, until about maxBytes or the newest event;
 * undefined when `from` already left the ring buffer. Stops before a later gap, so the
 * next call reports it. `encode`: as a Buffer, to be written to many sockets.
 */
function collectChunk(log: EventLog, filter: EventFilter, from: number, maxBytes: number, encode = false): Chunk | undefined {
  let text = '';
  let seq = from;
  while (seq <= log.lastSeq && text.length < maxBytes) {
    const event = log.get(seq);
    if (event === undefined) {
      if (seq === from) return undefined;
      break;
    }
    if (matches(filter, event)) text += event.frame;
    seq++;
  }
  return { data: encode && text !== '' ? Buffer.from(text) : text, endSeq: seq };
}

/** Chunks built during one flush, by position and filter. */
class SharedChunks {
  private readonly chunks = new Map<string, Chunk | undefined>();

  get(from: number, filterKey: string, build: () => Chunk | undefined): Chunk | undefined {
    const key = `${from}\n${filterKey}`;
    if (this.chunks.has(key)) return this.chunks.get(key);
    const chunk = build();
    this.chunks.set(key, chunk);
    return chunk;
  }
}

class SseStream {
  /** The next seq this stream has to consider (write, or skip by filter). */
  private nextSeq: number;
  /** Waiting for 'drain'. */
  private paused = false;
  /** Bytes of matching events published since the stream paused. */
  private pendingBytes = 0;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly log: EventLog,
    private readonly filter: EventFilter,
    private readonly filterKey: string,
    start: StreamStart,
    private readonly options: SseHubOptions,
    private readonly onClose: (stream: SseStream) => void,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The first line tells the client the stream is attached (and to which process).
    res.write(`: tpmutex events boot=${log.boot} lastSeq=${log.lastSeq}\nretry: 1000\n\n`);
    this.nextSeq = this.startSeq(start);
    this.heartbeat = setInterval(() => { if (!this.closed && !this.paused) res.write(': heartbeat\n\n'); }, options.heartbeatMs);
    res.on('close', () => this.close());
    res.on('drain', () => { this.paused = false; this.pendingBytes = 0; this.pump(); });
    this.pump();
  }

  /** Ends the stream (shutdown) after writing every event published so far. */
  end(): void {
    if (this.closed) return;
    this.paused = false;
    this.pump(Infinity);
    this.res.end();
    this.close();
  }

  private startSeq(start: StreamStart): number {
    if (start.kind === 'live') return this.log.lastSeq + 1;
    const replay = start.kind === 'after' ? this.log.after(start.seq) : { kind: 'gap' as const, reason: start.reason };
    if (replay.kind === 'ok') return start.kind === 'after' ? start.seq + 1 : this.log.oldestSeq;
    this.res.write(controlFrame('reset', { reason: replay.reason, boot: this.log.boot, oldestSeq: this.log.oldestSeq, lastSeq: this.log.lastSeq }));
    return this.log.oldestSeq;
  }

  /** Accounting only: the frames go out at the hub's next flush. */
  onPublish(event: LoggedEvent): void {
    if (!this.paused || this.closed || !matches(this.filter, event)) return;
    this.pendingBytes += event.frame.length;
    if (this.pendingBytes > this.options.maxBufferedBytes) this.overflow(`more than ${this.options.maxBufferedBytes} bytes of events waited for a slow client`);
  }

  /** The hub's flush: write what was published since the last one, unless waiting for 'drain'. */
  flush(shared: SharedChunks): void {
    this.pump(HIGH_WATER_BYTES, shared);
  }

  /**
   * Writes from the ring at this stream's position while the socket takes data, a chunk
   * of up to about highWater bytes per write. In a flush, streams at the same position
   * with the same filter (the usual case: live followers) share one encoded chunk.
   */
  private pump(highWater = HIGH_WATER_BYTES, shared?: SharedChunks): void {
    while (!this.closed && !this.paused && this.nextSeq <= this.log.lastSeq) {
      if (this.res.writableLength >= highWater) { this.paused = true; return; }
      const chunk = shared === undefined
        ? collectChunk(this.log, this.filter, this.nextSeq, highWater)
        : shared.get(this.nextSeq, this.filterKey, () => collectChunk(this.log, this.filter, this.nextSeq, highWater, true));
      if (chunk === undefined) {
        this.overflow(`the events after ${this.nextSeq - 1} left the replay buffer before this client read them`);
        return;
      }
      this.nextSeq = chunk.endSeq;
      if (chunk.data.length > 0) this.res.write(chunk.data);
    }
  }

  private overflow(reason: string): void {
    this.res.end(controlFrame('overflow', {
      reason: `${reason}; reconnect with Last-Event-ID to resume`,
      lastEventId: `${this.log.boot}-${this.nextSeq - 1}`,
    }));
    this.options.onOverflow?.();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.onClose(this);
  }
}

export class SseHub {
  private readonly streams = new Set<SseStream>();
  private flushScheduled = false;
  /** performance.now() before which the next flush should not start (FLUSH_DUTY). */
  private nextFlushAt = 0;
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const began = performance.now();
    const shared = new SharedChunks();
    for (const stream of this.streams) stream.flush(shared);
    // The socket writes themselves happen in the nextTick that uncorks each response
    // (node:http corks a chunked write); a tick queued now runs after all of them.
    process.nextTick(() => {
      const took = performance.now() - began;
      // A cheap flush (a few subscribers) is never a reason to hold the next one back.
      this.nextFlushAt = took < SPACED_FLUSH_MS ? 0 : began + took / FLUSH_DUTY;
    });
  };

  constructor(private readonly log: EventLog, private readonly options: SseHubOptions) {
    log.subscribe((event) => this.onPublish(event));
  }

  private onPublish(event: LoggedEvent): void {
    if (this.streams.size === 0) return;
    for (const stream of this.streams) stream.onPublish(event);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const wait = this.nextFlushAt - performance.now();
    if (wait < 1) setImmediate(this.flush);
    else setTimeout(this.flush, wait);
  }

  get size(): number { return this.streams.size; }

  open(res: ServerResponse, filter: EventFilter, start: StreamStart): void {
    // Unambiguous whatever the names contain: streams share chunks only with equal filters.
    const filterKey = JSON.stringify([filter.mutex ?? null, filter.workId ?? null, filter.types === undefined ? null : [...filter.types].sort()]);
    this.streams.add(new SseStream(res, this.log, filter, filterKey, start, this.options, (s) => this.streams.delete(s)));
  }

  /** Ends every stream, after all events so far were written to it. */
  endAll(): void {
    for (const stream of [...this.streams]) stream.end();
  }

  /** Parses `Last-Event-ID` (`<boot>-<seq>`). */
  static parseEventId(log: EventLog, id: string): StreamStart | null {
    const match = /^([A-Za-z0-9]{1,32})-(\d{1,15})$/.exec(id.trim());
    if (!match) return null;
    const [, boot, seq] = match;
    if (boot !== log.boot) return { kind: 'foreign', reason: `event id ${id} is from another server process (this one is ${log.boot})` };
    return { kind: 'after', seq: Number(seq) };
  }
}
