/**
 * An SSE subscriber of the soak: it follows GET /v1/events (every event, no filter, so
 * that `seq` must go up by exactly one from frame to frame), and after a disconnect —
 * its own when it churns, or the server's `overflow` — resumes with Last-Event-ID. Any
 * gap in `seq` is a lost event, whatever the cause (a `reset`, a resume that skipped).
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { SseBlocks, type parseSseBlock } from '../helpers/sse-frames.js';

export interface SseEvent { id: string; event: string; data: string; seq: number }

export interface FollowerOptions {
  /** Disconnect after a random 1–6 s and resume; without it, only the server's cut ends a stream. */
  churn: boolean;
  /** Every event frame, in order (not reset/overflow). */
  onEvent?: (frame: SseEvent) => void;
}

export class EventFollower {
  lost = 0;
  duplicates = 0;
  resets = 0;
  overflows = 0;
  resumes = 0;
  frames = 0;
  /** Why streams failed to open (non-200 answers, socket errors), first few. */
  readonly failures: string[] = [];
  private lastId: string | undefined;
  private lastSeq: number | undefined;
  private stopped = false;
  private req: ClientRequest | undefined;
  private res: IncomingMessage | undefined;
  private running: Promise<void> = Promise.resolve();
  private firstOpen!: () => void;

  constructor(private readonly baseUrl: string, private readonly options: FollowerOptions) {}

  /** Resolves once the first stream is open (its hello comment read); rejects after 60 s without. */
  start(): Promise<void> {
    const opened = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no event stream opened in 60 s: ${this.failures.join('; ') || 'no answer'}`)), 60_000);
      this.firstOpen = () => { clearTimeout(timer); resolve(); };
    });
    this.running = this.loop();
    return opened;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.req?.destroy();
    this.res?.destroy();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const churnMs = this.options.churn ? 1000 + Math.random() * 5000 : undefined;
      await this.stream(churnMs);
      if (this.stopped) return;
      this.resumes++;
      // A churning client comes back after a moment; one cut by the server at once.
      await new Promise((resolve) => setTimeout(resolve, this.options.churn ? Math.random() * 1000 : 50));
    }
  }

  /** One stream, until it ends, fails, or `churnMs` passes. */
  private stream(churnMs: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => { clearTimeout(timer); resolve(); };
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (this.lastId !== undefined) headers['last-event-id'] = this.lastId;
      const req = request(new URL('/v1/events', this.baseUrl), { headers, agent: false }, (res) => {
        this.res = res;
        if (res.statusCode !== 200) {
          this.fail(`GET /v1/events → ${res.statusCode}`);
          res.resume();
          res.on('end', done);
          return;
        }
        const blocks = new SseBlocks((block) => this.block(block));
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => blocks.feed(chunk));
        res.on('close', done);
        res.on('error', done);
        if (churnMs !== undefined) timer = setTimeout(() => { req.destroy(); res.destroy(); }, churnMs);
      });
      this.req = req;
      req.on('error', (err) => { if (!this.stopped && churnMs === undefined) this.fail(err.message); done(); });
      req.end();
    });
  }

  private block({ frame, comments }: ReturnType<typeof parseSseBlock>): void {
    if (comments.length > 0) this.firstOpen(); // hello and heartbeats
    if (frame === undefined) return;
    const { id, event, data } = frame;
    if (event === 'reset') { this.resets++; return; }
    if (event === 'overflow') { this.overflows++; return; }
    if (id === undefined) return;
    const seq = Number(id.slice(id.lastIndexOf('-') + 1));
    this.frames++;
    if (this.lastSeq !== undefined) {
      if (seq <= this.lastSeq) { this.duplicates++; return; }
      this.lost += seq - this.lastSeq - 1;
    }
    this.lastSeq = seq;
    this.lastId = id;
    this.options.onEvent?.({ id, event, data, seq });
  }

  private fail(reason: string): void {
    if (this.failures.length < 5) this.failures.push(reason);
  }
}
