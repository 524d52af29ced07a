/**
 * Server-Sent Events for /v1/events. Each stream replays what the client missed,
 * then follows the event log live. A stream never skips an event silently: a client
 * whose position is no longer buffered gets `event: reset` first, and a client too
 * slow to keep up (more than maxBufferedBytes unsent) gets `event: overflow` and is
 * disconnected, to resume with Last-Event-ID.
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

class SseStream {
  private lastSentSeq: number;
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
    this.lastSentSeq = log.lastSeq;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The first line tells the client the stream is attached (and to which process).
    res.write(`: tpmutex events boot=${log.boot} lastSeq=${log.lastSeq}\nretry: 1000\n\n`);
    this.replay(start);
    this.unsubscribe = log.subscribe((event) => this.send(event));
    this.heartbeat = setInterval(() => { if (!this.closed) res.write(': heartbeat\n\n'); }, options.heartbeatMs);
    res.on('close', () => this.close());
  }

  /** Ends the stream (shutdown): everything already published has been written. */
  end(): void {
    if (this.closed) return;
    this.res.end();
    this.close();
  }

  private replay(start: StreamStart): void {
    if (start.kind === 'live') return;
    const replay = start.kind === 'after' ? this.log.after(start.seq) : { kind: 'gap' as const, events: this.log.all(), reason: start.reason };
    if (replay.kind === 'gap') {
      this.res.write(controlFrame('reset', { reason: replay.reason, boot: this.log.boot, oldestSeq: this.log.oldestSeq, lastSeq: this.log.lastSeq }));
    }
    for (const event of replay.events) this.send(event);
  }

  private send(event: LoggedEvent): void {
    if (this.closed) return;
    this.lastSentSeq = event.seq;
    if (!matches(this.filter, event)) return;
    this.res.write(event.frame);
    if (this.res.writableLength > this.options.maxBufferedBytes) this.overflow();
  }

  private overflow(): void {
    this.res.end(controlFrame('overflow', {
      reason: `more than ${this.options.maxBufferedBytes} bytes unsent; reconnect with Last-Event-ID to resume`,
      lastEventId: `${this.log.boot}-${this.lastSentSeq}`,
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
