/**
 * A Server-Sent Events client for the suites, on node:http so a test can stop
 * reading (a slow subscriber) and see comments (heartbeats) and control events.
 */
import { request, type IncomingMessage } from 'node:http';
import { SseBlocks, type SseFrame } from '../helpers/sse-frames.js';

export type { SseFrame };

export interface SseOpenOptions { lastEventId?: string; headers?: Record<string, string> }

export class SseClient {
  readonly frames: SseFrame[] = [];
  readonly comments: string[] = [];
  status = 0;
  /** True once the server ended the stream. */
  ended = false;
  private readonly blocks = new SseBlocks(({ frame, comments }) => {
    this.comments.push(...comments);
    if (frame) this.frames.push(frame);
  });
  private res: IncomingMessage | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly req;

  private constructor(url: string, options: SseOpenOptions, ready: (err?: Error) => void) {
    this.req = request(url, {
      headers: { accept: 'text/event-stream', ...options.headers, ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}) },
    }, (res) => {
      this.res = res;
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.feed(chunk));
      res.on('end', () => { this.ended = true; this.notify(); });
      res.on('close', () => { this.ended = true; this.notify(); });
      if (this.status !== 200) { ready(); return; }
      // Ready once the server's hello comment arrived: from then on nothing is missed.
      void this.waitFor(() => this.comments.length > 0, 30_000).then(() => ready(), ready);
    });
    this.req.on('error', (err) => { this.ended = true; this.notify(); ready(err); });
    this.req.end();
  }

  static open(baseUrl: string, path = '/v1/events', options: SseOpenOptions = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const client: SseClient = new SseClient(`${baseUrl}${path}`, options, (err) => (err ? reject(err) : resolve(client)));
    });
  }

  /** The event frames (not reset/overflow) as parsed JSON. */
  get events(): SseFrame['json'][] {
    return this.frames.filter((f) => f.event !== 'reset' && f.event !== 'overflow').map((f) => f.json);
  }

  pause(): void { this.res?.pause(); }
  resume(): void { this.res?.resume(); }

  close(): void {
    this.req.destroy();
    this.res?.destroy();
    this.ended = true;
    this.notify();
  }

  /** Resolves once predicate() holds; rejects after timeoutMs with what was seen. */
  waitFor(predicate: () => boolean, timeoutMs = 60_000, what = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate()) { cleanup(); resolve(); }
        else if (this.ended) { cleanup(); reject(new Error(`stream ended before ${what} (${this.frames.length} frames)`)); }
      };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.frames.length} frames)`)); }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
    });
  }

  private feed(chunk: string): void {
    this.blocks.feed(chunk);
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
