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

/** Unsent bytes in the socket's user-space buffer above which a stream pauses for 'drain'. */
const HIGH_WATER_BYTES = 64 * 1024;

class SseStream {
  /** The next seq this stream has to consider (write, or skip by filter). */
  private nextSeq: number;
  /** Waiting for 'drain'. */
  private paused = false;
  /** Bytes of matching events published since the stream paused. */
  private pendingBytes = 0;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly log: EventLog,
    private readonly filter: EventFilter,
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
    this.unsubscribe = log.subscribe((event) => this.onPublish(event));
    this.heartbeat = setInterval(() => { if (!this.closed && !this.paused) res.write(': heartbeat\n\n'); }, options.heartbeatMs);
    res.on('close', () => this.close());
    res.on('drain', () => { this.paused = false; this.pendingBytes = 0; this.pump(); });
    this.pump();
  }

  /** Ends the stream (shutdown) after writing every event published so far. */
  end(): void {
    if (this.closed) return;
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

  private onPublish(event: LoggedEvent): void {
    if (!this.paused) { this.pump(); return; }
    if (!matches(this.filter, event)) return;
    this.pendingBytes += event.frame.length;
    if (this.pendingBytes > this.options.maxBufferedBytes) this.overflow(`more than ${this.options.maxBufferedBytes} bytes of events waited for a slow client`);
  }

  /** Writes from the ring at this stream's position while the socket takes data. */
  private pump(highWater = HIGH_WATER_BYTES): void {
    while (!this.closed && this.nextSeq <= this.log.lastSeq) {
      if (this.res.writableLength >= highWater) { this.paused = true; return; }
      const event = this.log.get(this.nextSeq);
      if (!event) { this.overflow(`the events after ${this.nextSeq - 1} left the replay buffer before this client read them`); return; }
      this.nextSeq++;
      if (matches(this.filter, event)) this.res.write(event.frame);
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
    this.unsubscribe();
    this.onClose(this);
  }
}

export class SseHub {
  private readonly streams = new Set<SseStream>();

  constructor(private readonly log: EventLog, private readonly options: SseHubOptions) {}

  get size(): number { return this.streams.size; }

  open(res: ServerResponse, filter: EventFilter, start: StreamStart): void {
    this.streams.add(new SseStream(res, this.log, filter, start, this.options, (s) => this.streams.delete(s)));
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
