/**
 * GET /v1/events as an async iterator that outlives its connection: when the stream
 * ends or breaks (an overflow, a restart, a proxy's timeout, a silent dead socket), it
 * reconnects with Last-Event-ID, so nothing is missed unless the service says so with a
 * `reset` frame, which is yielded like any other. Stops when the signal aborts or the
 * consumer leaves the loop.
 */
import { TpmutexProblemError } from './errors.js';
import { parseSse } from './sse-parser.js';
import type { EventFrame, EventType, OverflowFrame, ResetFrame, TpmutexEvent } from './types.js';

export interface EventsOptions {
  /** Only the events of this mutex (any of its names). */
  mutex?: string;
  /** Only the events of this work. */
  work?: string;
  /** Only these event types (reset and overflow frames come regardless). */
  types?: readonly EventType[];
  /** Start with the events after this seq of the current server process (replayed from its buffer). */
  after?: number;
  /** Resume after this event id (`<boot>-<seq>`); wins over `after`. */
  lastEventId?: string;
  /** Ends the iteration (without an error). */
  signal?: AbortSignal;
  /**
   * Reconnect when nothing, not even a heartbeat, arrived for this long (0: never).
   * The service sends a heartbeat every SSE_HEARTBEAT_MS (15 s by default).
   */
  idleTimeoutMs?: number;
  /** Longest wait between reconnection attempts (default 10 s). */
  maxRetryDelayMs?: number;
}

/** What the stream needs from the client: one GET that answers with the raw Response or throws. */
export type OpenStream = (query: URLSearchParams, headers: Record<string, string>, signal: AbortSignal) => Promise<Response>;

const DEFAULT_IDLE_TIMEOUT_MS = 45_000;
const DEFAULT_MAX_RETRY_DELAY_MS = 10_000;

/** Worth another connection: the service is unreachable, restarting, shedding load or limiting; not a bad request. */
function retriable(err: unknown): boolean {
  if (err instanceof TpmutexProblemError) return err.status === 408 || err.status === 429 || err.status >= 500;
  return true;
}

export async function* eventStream(open: OpenStream, options: EventsOptions): AsyncGenerator<EventFrame> {
  const { signal, idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS, maxRetryDelayMs = DEFAULT_MAX_RETRY_DELAY_MS } = options;
  let lastEventId = options.lastEventId;
  let serverRetryMs = 1_000;
  let failures = 0;
  let connected = false;
  // A function, not a narrowed property: the signal aborts while this generator awaits.
  const aborted = (): boolean => signal?.aborted === true;

  while (!aborted()) {
    const connection = new AbortController();
    const abort = (): void => connection.abort();
    signal?.addEventListener('abort', abort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const stillAlive = (): void => {
      if (idleTimeoutMs <= 0) return;
      clearTimeout(idle);
      idle = setTimeout(() => connection.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
    };
    let retryAfterMs: number | undefined;
    try {
      const query = new URLSearchParams();
      if (options.mutex !== undefined) query.set('mutex', options.mutex);
      if (options.work !== undefined) query.set('work', options.work);
      if (options.types !== undefined && options.types.length > 0) query.set('types', options.types.join(','));
      if (lastEventId === undefined && options.after !== undefined) query.set('after', String(options.after));
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      stillAlive();
      const res = await open(query, headers, connection.signal);
      connected = true;
      failures = 0;
      for await (const frame of parseSse(chunksOf(res, stillAlive), { onRetry: (ms) => { serverRetryMs = ms; } })) {
        const data = JSON.parse(frame.data) as Record<string, unknown>;
        if (frame.event === 'reset') {
          yield data as ResetFrame;
        } else if (frame.event === 'overflow') {
          const overflow = data as OverflowFrame;
          lastEventId = overflow.lastEventId;
          yield overflow;
        } else if (frame.id !== undefined) {
          lastEventId = frame.id;
          yield { ...data, id: frame.id } as TpmutexEvent;
        }
      }
    } catch (err) {
      if (aborted()) return;
      // The first connection's failure is the caller's to see (a wrong URL, a bad filter);
      // once the stream has worked, only a bad request ends it.
      if (!connected || !retriable(err)) throw err;
      if (err instanceof TpmutexProblemError && err.retryAfterSeconds !== undefined) retryAfterMs = err.retryAfterSeconds * 1000;
    } finally {
      clearTimeout(idle);
      signal?.removeEventListener('abort', abort);
      connection.abort();
    }
    const backoff = Math.min(maxRetryDelayMs, serverRetryMs * 2 ** Math.min(failures, 10));
    failures++;
    await sleep(retryAfterMs ?? backoff, signal);
  }
}

/** The response body's chunks, calling alive() on each (heartbeats included). */
async function* chunksOf(res: Response, alive: () => void): AsyncGenerator<Uint8Array> {
  if (res.body === null) return;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      alive();
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) { resolve(); return; }
    const done = (): void => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
