/**
 * sseLost, sseP99Ms: 500 SSE subscribers (each on its own connection, following
 * `work.released`) while works are submitted at a steady 500/s. Lost = released events
 * a subscriber never received (counting an `overflow` or `reset` frame as losing what
 * followed); delivery = the engine's `released` stamp → the frame's arrival here, p99
 * over every frame of every subscriber.
 *
 * The subscribers parse only what they need (the event name and releasedAtNs) so that
 * 250,000 frames/s do not make this process, rather than the service, the bottleneck.
 */
import { request, type ClientRequest } from 'node:http';
import { percentile, round } from './stats.js';
import type { BenchService } from './service.js';

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

  constructor(private readonly latenciesNs: number[], private readonly offsetNs: number) {}

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

/** Submits at a steady `perSecond` for `seconds`; resolves with the rate achieved once every answer is in. */
async function drive(service: BenchService, perSecond: number, seconds: number): Promise<number> {
  const total = perSecond * seconds;
  const began = Date.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = began + (i * 1000) / perSecond - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(service.api.submitOk({ mutex: `bench-${i % 64}`, holdMs: 0 }));
  }
  await Promise.all(pending);
  return total / ((Date.now() - began) / 1000);
}

/** Until every subscriber has `expected` frames (or is broken), or nothing arrived for 10 s. */
async function delivered(subscribers: readonly Subscriber[], expected: number): Promise<void> {
  let last = -1;
  let quietSince = Date.now();
  while (!subscribers.every((s) => s.received >= expected || s.broken !== '') && Date.now() - quietSince < 10_000) {
    const now = subscribers.reduce((sum, s) => sum + s.received, 0);
    if (now !== last) { last = now; quietSince = Date.now(); }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function measureSseFanout(service: BenchService, options: { subscribers: number; perSecond: number; seconds: number }) {
  const latenciesNs: number[] = [];
  const subscribers = Array.from({ length: options.subscribers }, () => new Subscriber(latenciesNs, Number(service.clockOffsetNs)));
  const url = `${service.baseUrl}/v1/events?types=work.released`;
  // Opened a few at a time: 500 connects at once is a SYN flood of its own.
  for (let i = 0; i < subscribers.length; i += 50) await Promise.all(subscribers.slice(i, i + 50).map((s) => s.open(url)));
  try {
    // Warm-up at the same rate (JIT, pool growth, socket buffers), then count from zero.
    const warmUp = Math.max(1, Math.round(options.seconds / 3));
    await drive(service, options.perSecond, warmUp);
    await delivered(subscribers, options.perSecond * warmUp);
    for (const s of subscribers) { s.received = 0; s.chunks = 0; }
    latenciesNs.length = 0;

    const worksPerSec = await drive(service, options.perSecond, options.seconds);
    const total = options.perSecond * options.seconds;
    await delivered(subscribers, total);
    const lost = subscribers.reduce((sum, s) => sum + Math.max(0, total - s.received), 0);
    const sorted = Float64Array.from(latenciesNs).sort();
    const ms = (p: number) => round(percentile(sorted, p, true) / 1e6);
    return {
      sseLost: lost,
      sseP99Ms: ms(99),
      raw: {
        subscribers: options.subscribers, worksPerSec: round(worksPerSec, 0), framesExpected: total * options.subscribers,
        framesReceived: latenciesNs.length,
        framesPerRead: round(latenciesNs.length / subscribers.reduce((sum, s) => sum + s.chunks, 0), 1),
        brokenStreams: subscribers.filter((s) => s.broken !== '').length,
        deliveryMs: { p50: ms(50), p99: ms(99), max: ms(100) },
      },
    };
  } finally {
    for (const s of subscribers) s.close();
  }
}
