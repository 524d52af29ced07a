/**
 * A worker thread of SSE subscribers for the benchmark (started by subscribers.ts). They
 * live off the bench's main thread, which is busy submitting works over HTTP: stamped
 * there, a frame's arrival would include that thread's own event-loop delays (measured:
 * p99 15 ms at 1,000 submits/s), which are the load generator's, not the service's.
 *
 * Messages in: {type:'report', reset?: boolean} → out: a SubscriberReport.
 */
import { request, type ClientRequest } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

export interface SubscriberInit { url: string; count: number; offsetNs: number }
export interface SubscriberReport {
  type: 'report';
  /** Frames received per subscriber since the last reset. */
  received: number[];
  /** Why a subscriber's stream broke ('' if it did not): an overflow or reset frame, or an error. */
  broken: string[];
  /** Socket reads that carried at least one frame, all subscribers. */
  reads: number;
  /** released stamp → arrival, ns, every frame of every subscriber since the last reset. */
  latenciesNs: Float64Array;
}

const RELEASED_AT = Buffer.from('"releasedAtNs":"');
const OVERFLOW = Buffer.from('event: overflow');
const RESET = Buffer.from('event: reset');
const FRAME_END = Buffer.from('\n\n');
const EMPTY = Buffer.alloc(0);
const QUOTE = 0x22;

/** process.hrtime as a Number of ns: exact enough (≪ 1 µs) and far cheaper than BigInt per frame. */
const nowNs = () => { const [s, ns] = process.hrtime(); return s * 1e9 + ns; };

/**
 * One subscriber. It reads raw bytes: each released frame carries exactly one
 * `"releasedAtNs":"<digits>"`, which is all it looks for, so a frame split across two
 * reads is handled by keeping the unread tail, and nothing is decoded or parsed as JSON.
 */
class Subscriber {
  received = 0;
  /** Socket reads that carried at least one frame: received/chunks ≈ frames per write. */
  chunks = 0;
  broken = '';
  private tail: Buffer = EMPTY;
  private req: ClientRequest | undefined;

  constructor(private latenciesNs: number[], private readonly offsetNs: number) {}

  /** Count from zero, into a new latency list. */
  reset(latenciesNs: number[]): void {
    this.latenciesNs = latenciesNs;
    this.received = 0;
    this.chunks = 0;
  }

  open(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.req = request(url, { headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) { reject(new Error(`${url}: ${res.statusCode}`)); res.resume(); return; }
        let attached = false;
        res.on('data', (chunk: Buffer) => {
          const now = nowNs();
          let data = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
          if (!attached) {
            // The hello comment comes first; from then on nothing is missed.
            const end = data.indexOf(FRAME_END);
            if (end < 0) { this.tail = data; return; }
            attached = true;
            resolve();
            data = data.subarray(end + FRAME_END.length);
          }
          this.tail = this.onData(data, now);
        });
        res.on('close', () => { if (!attached) reject(new Error(`${url}: closed before the hello`)); });
      });
      this.req.on('error', (err) => { this.broken ||= err.message; reject(err); });
      this.req.end();
    });
  }

  close(): void { this.req?.destroy(); }

  /** Counts the stamps of the complete frames in `data`, stamped with the read's arrival; returns the partial frame after them. */
  private onData(data: Buffer, now: number): Buffer {
    const last = data.lastIndexOf(FRAME_END);
    if (last < 0) return Buffer.from(data);
    if (data.includes(OVERFLOW) || data.includes(RESET)) this.broken ||= data.subarray(0, 500).toString();
    let at = 0;
    let found = false;
    for (;;) {
      const key = data.indexOf(RELEASED_AT, at);
      if (key < 0 || key > last) break;
      const start = key + RELEASED_AT.length;
      const end = data.indexOf(QUOTE, start);
      this.received++;
      found = true;
      this.latenciesNs.push(now - (Number(data.toString('latin1', start, end)) - this.offsetNs));
      at = end;
    }
    if (found) this.chunks++;
    // Usually empty: the service writes whole frames, and most reads end with one.
    return last + FRAME_END.length === data.length ? EMPTY : Buffer.from(data.subarray(last + FRAME_END.length));
  }
}

async function main(): Promise<void> {
  const port = parentPort!;
  // workerData is typed `any` by Node; subscribers.ts always passes a SubscriberInit.
  const init = workerData as SubscriberInit;
  let latenciesNs: number[] = [];
  const subscribers = Array.from({ length: init.count }, () => new Subscriber(latenciesNs, init.offsetNs));
  // Opened a few at a time: 500 connects at once is a SYN flood of its own.
  for (let i = 0; i < subscribers.length; i += 50) await Promise.all(subscribers.slice(i, i + 50).map((s) => s.open(init.url)));
  port.on('message', (message: { type: 'report'; reset?: boolean } | { type: 'close' }) => {
    if (message.type === 'close') {
      for (const s of subscribers) s.close();
      port.close();
      return;
    }
    const report: SubscriberReport = {
      type: 'report',
      received: subscribers.map((s) => s.received),
      broken: subscribers.map((s) => s.broken),
      reads: subscribers.reduce((sum, s) => sum + s.chunks, 0),
      latenciesNs: Float64Array.from(latenciesNs),
    };
    if (message.reset === true) {
      latenciesNs = [];
      for (const s of subscribers) s.reset(latenciesNs);
    }
    port.postMessage(report, [report.latenciesNs.buffer as ArrayBuffer]);
  });
  port.postMessage({ type: 'ready' });
}

await main();
