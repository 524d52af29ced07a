/**
 * A typed client for the tpmutex HTTP API: one method per operation of openapi.yaml
 * (named by its operationId), the event stream as a reconnecting async iterator, and
 * acquire()/hold(), the calls a test harness wants. Node's built-in fetch; nothing
 * at run time beyond the service's own schema module (typebox).
 */
import { isTerminal } from '../schemas/work.js';
import { LeaseLostError, TpmutexConnectionError, TpmutexProblemError, WorkNotHeldError } from './errors.js';
import { eventStream, type EventsOptions } from './event-stream.js';
import type {
  AbandonRequest, EventFrame, EventObject, EventObjectList, EventObjectListQuery, EventObjectOpenRequest, Health, Info,
  Mutex, MutexList, MutexListQuery, Opened, Pool, PoolPatch, Problem, Semaphore, SemaphoreList, SemaphoreListQuery,
  SemaphoreOpenRequest, Status, Submitted, Tagged, Work, WorkList, WorkListQuery, WorkRequest,
} from './types.js';

export interface TpmutexClientOptions {
  /** Where the service listens, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** A token of TOKENS, sent as `Authorization: Bearer <token>`. */
  token?: string;
}

/** Every method takes these last. */
export interface RequestOptions {
  signal?: AbortSignal;
}

export interface SubmitOptions extends RequestOptions {
  /** The same key with the same request returns the same work (a retry is safe). */
  idempotencyKey?: string;
}

export interface WaitOptions extends RequestOptions {
  /** How long the service waits before answering with the work as it is (≤ MAX_WAIT_MS; default 30000). */
  timeoutMs?: number;
}

/**
 * acquire() and acquireSemaphore(): the request without what it acquires (the method's
 * name says which); `untilSignaled` defaults to true.
 */
export type AcquireOptions = Omit<WorkRequest, 'mutex' | 'semaphore'> & SubmitOptions & {
  /** Called as soon as the work exists, before it holds the mutex (e.g. to start renewing its lease: the wait may outlast it). */
  onSubmitted?: (work: Work) => void;
};

/**
 * hold() and holdSemaphore(): the request without what it acquires; the hold always
 * lasts until signalled (holdMs bounds it) and always has a lease (leaseMs, default
 * DEFAULT_HOLD_LEASE_MS), kept alive while `fn` runs: if this process dies, the service
 * ends the hold leaseMs later.
 */
export type HoldOptions = Omit<WorkRequest, 'mutex' | 'semaphore' | 'untilSignaled'> & SubmitOptions;

/** getStatus() with the ETag of an earlier answer: undefined (304) while nothing changed. */
export interface StatusOptions extends RequestOptions {
  ifNoneMatch?: string;
}

/** What a work acquires: a mutex, or one unit of a semaphore. */
type Target = { mutex: string } | { semaphore: string };

export interface KeepaliveOptions extends RequestOptions {
  /** A new lease (adds one to a work without, or changes it); without: renew the work's own. */
  leaseMs?: number;
}

/** The lease hold() takes when none is given: how long a mutex outlives a crashed holder at most. */
export const DEFAULT_HOLD_LEASE_MS = 30_000;
/** hold() renews its lease this many times per lease, so a late or lost renewal does not lose it. */
const RENEWALS_PER_LEASE = 3;

type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

interface Call {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/** Each long-poll of waitUntilEnded() asks for at most this long (MAX_WAIT_MS is 300000 by default). */
const WAIT_SLICE_MS = 30_000;
/** What acquire() listens for: the work held the mutex, or ended without it. */
const ACQUIRE_OUTCOMES = ['work.acquired', 'work.timed_out', 'work.cancelled', 'work.failed'] as const;

export class TpmutexClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;

  constructor(options: TpmutexClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
  }

  // --- health, documents, status -----------------------------------------------------

  /** GET /livez */
  getLiveness(options: RequestOptions = {}): Promise<Health> {
    return this.#json('GET', '/livez', options);
  }

  /** GET /readyz: resolves also when not ready (503 with a Health document: starting, draining, stopped, engine_failed). */
  async getReadiness(options: RequestOptions = {}): Promise<Health> {
    const res = await this.#fetch('GET', '/readyz', options);
    if (res.status === 503 && (res.headers.get('content-type') ?? '').startsWith('application/json')) return await res.json() as Health;
    return await (await this.#ok(res)).json() as Health;
  }

  /** GET /metrics: the Prometheus text exposition. */
  async getMetrics(options: RequestOptions = {}): Promise<string> {
    return (await this.#ok(await this.#fetch('GET', '/metrics', options))).text();
  }

  /** GET /openapi.json */
  getOpenApi(options: RequestOptions = {}): Promise<Record<string, unknown>> {
    return this.#json('GET', '/openapi.json', options);
  }

  /** GET /docs: the Swagger UI page (HTML). */
  async getDocs(options: RequestOptions = {}): Promise<string> {
    return (await this.#ok(await this.#fetch('GET', '/docs', options))).text();
  }

  /** GET /v1/info */
  getInfo(options: RequestOptions = {}): Promise<Info> {
    return this.#json('GET', '/v1/info', options);
  }

  /**
   * GET /v1/status, with its `etag`. Given `ifNoneMatch` (an earlier answer's etag), it
   * resolves undefined while nothing changed (304): a cheap poll.
   */
  getStatus(options?: RequestOptions & { ifNoneMatch?: undefined }): Promise<Tagged<Status>>;
  getStatus(options: StatusOptions): Promise<Tagged<Status> | undefined>;
  async getStatus(options: StatusOptions = {}): Promise<Tagged<Status> | undefined> {
    const { ifNoneMatch, ...rest } = options;
    const res = await this.#fetch('GET', '/v1/status', { ...rest, ...(ifNoneMatch === undefined ? {} : { headers: { 'if-none-match': ifNoneMatch } }) });
    if (res.status === 304) return undefined;
    const { body } = await this.#read<Status>(res);
    return withAnswer(body, { etag: res.headers.get('etag') ?? undefined });
  }

  // --- mutexes ----------------------------------------------------------------------

  /** PUT /v1/mutexes/{name}: open or create; `created` says whether this call created it (201) or it was already open (200). */
  openMutex(name: string, options: RequestOptions = {}): Promise<Opened<Mutex>> {
    return this.#opened('PUT', `/v1/mutexes/${encodeURIComponent(name)}`, options);
  }

  /** GET /v1/mutexes/{name} */
  getMutex(name: string, options: RequestOptions = {}): Promise<Mutex> {
    return this.#json('GET', `/v1/mutexes/${encodeURIComponent(name)}`, options);
  }

  /** DELETE /v1/mutexes/{name}: close the handle (409 mutex-in-use while work on it is unfinished). */
  closeMutex(name: string, options: RequestOptions = {}): Promise<Mutex> {
    return this.#json('DELETE', `/v1/mutexes/${encodeURIComponent(name)}`, options);
  }

  /** GET /v1/mutexes: one page; pass nextCursor back as cursor. */
  listMutexes(query: MutexListQuery = {}, options: RequestOptions = {}): Promise<MutexList> {
    return this.#json('GET', '/v1/mutexes', { ...options, query });
  }

  /**
   * POST /v1/mutexes/{name}/abandon: a work whose dedicated thread acquires the mutex and
   * exits owning it (terminal state `abandoned`); the next acquirer gets `abandoned: true`.
   */
  abandonMutex(name: string, body: AbandonRequest = {}, options: SubmitOptions = {}): Promise<Submitted> {
    return this.#submitted(`/v1/mutexes/${encodeURIComponent(name)}/abandon`, body, options);
  }

  // --- semaphores ---------------------------------------------------------------------

  /** PUT /v1/semaphores/{name}: open or create with its counts (ignored when it exists); `created` as for openMutex(). */
  openSemaphore(name: string, body: SemaphoreOpenRequest = {}, options: RequestOptions = {}): Promise<Opened<Semaphore>> {
    return this.#opened('PUT', `/v1/semaphores/${encodeURIComponent(name)}`, { ...options, body });
  }

  /** GET /v1/semaphores/{name}: `count` is live from the OS. */
  getSemaphore(name: string, options: RequestOptions = {}): Promise<Semaphore> {
    return this.#json('GET', `/v1/semaphores/${encodeURIComponent(name)}`, options);
  }

  /** GET /v1/semaphores: one page. */
  listSemaphores(query: SemaphoreListQuery = {}, options: RequestOptions = {}): Promise<SemaphoreList> {
    return this.#json('GET', '/v1/semaphores', { ...options, query });
  }

  /** DELETE /v1/semaphores/{name}: close the handle (409 object-in-use while a work on it is unfinished). */
  async closeSemaphore(name: string, options: RequestOptions = {}): Promise<void> {
    await this.#ok(await this.#fetch('DELETE', `/v1/semaphores/${encodeURIComponent(name)}`, options));
  }

  // --- event objects ------------------------------------------------------------------

  /** PUT /v1/event-objects/{name}: open or create with its type and state (ignored when it exists); `created` as for openMutex(). */
  openEventObject(name: string, body: EventObjectOpenRequest = {}, options: RequestOptions = {}): Promise<Opened<EventObject>> {
    return this.#opened('PUT', `/v1/event-objects/${encodeURIComponent(name)}`, { ...options, body });
  }

  /** GET /v1/event-objects/{name}: `signaled` and `manualReset` are live from the OS. */
  getEventObject(name: string, options: RequestOptions = {}): Promise<EventObject> {
    return this.#json('GET', `/v1/event-objects/${encodeURIComponent(name)}`, options);
  }

  /** GET /v1/event-objects: one page. */
  listEventObjects(query: EventObjectListQuery = {}, options: RequestOptions = {}): Promise<EventObjectList> {
    return this.#json('GET', '/v1/event-objects', { ...options, query });
  }

  /** DELETE /v1/event-objects/{name}: close the handle (409 object-in-use while a work that sets it is unfinished). */
  async closeEventObject(name: string, options: RequestOptions = {}): Promise<void> {
    await this.#ok(await this.#fetch('DELETE', `/v1/event-objects/${encodeURIComponent(name)}`, options));
  }

  /** POST /v1/event-objects/{name}/set */
  setEventObject(name: string, options: RequestOptions = {}): Promise<EventObject> {
    return this.#json('POST', `/v1/event-objects/${encodeURIComponent(name)}/set`, options);
  }

  /** POST /v1/event-objects/{name}/reset */
  resetEventObject(name: string, options: RequestOptions = {}): Promise<EventObject> {
    return this.#json('POST', `/v1/event-objects/${encodeURIComponent(name)}/reset`, options);
  }

  // --- work -------------------------------------------------------------------------

  /** POST /v1/work; `replayed` is true when the Idempotency-Key gave back the work an earlier submit created. */
  submitWork(body: WorkRequest, options: SubmitOptions = {}): Promise<Submitted> {
    return this.#submitted('/v1/work', body, options);
  }

  /** GET /v1/work: one page, oldest first; pass nextCursor back as cursor. */
  listWork(query: WorkListQuery = {}, options: RequestOptions = {}): Promise<WorkList> {
    return this.#json('GET', '/v1/work', { ...options, query });
  }

  /** GET /v1/work/{id} */
  getWork(id: string, options: RequestOptions = {}): Promise<Work> {
    return this.#json('GET', `/v1/work/${encodeURIComponent(id)}`, options);
  }

  /** GET /v1/work/{id}?wait=terminal: the work once it ended, or as it is after timeoutMs. */
  waitWork(id: string, options: WaitOptions = {}): Promise<Work> {
    return this.#json('GET', `/v1/work/${encodeURIComponent(id)}`, { signal: options.signal, query: { wait: 'terminal', timeoutMs: options.timeoutMs } });
  }

  /** POST /v1/work/{id}/signal: a holding callback returns now (409 work-finished if it ended). */
  signalWork(id: string, options: RequestOptions = {}): Promise<Work> {
    return this.#json('POST', `/v1/work/${encodeURIComponent(id)}/signal`, options);
  }

  /** POST /v1/work/{id}/keepalive: renew the lease (409 lease-expired once it ran out, work-finished once the work ended). */
  keepaliveWork(id: string, options: KeepaliveOptions = {}): Promise<Work> {
    return this.#json('POST', `/v1/work/${encodeURIComponent(id)}/keepalive`, {
      signal: options.signal, ...(options.leaseMs === undefined ? {} : { body: { leaseMs: options.leaseMs } }),
    });
  }

  /** DELETE /v1/work/{id}: cancel (409 work-finished if it ended). */
  cancelWork(id: string, options: RequestOptions = {}): Promise<Work> {
    return this.#json('DELETE', `/v1/work/${encodeURIComponent(id)}`, options);
  }

  // --- pool -------------------------------------------------------------------------

  /** GET /v1/pool */
  getPool(options: RequestOptions = {}): Promise<Pool> {
    return this.#json('GET', '/v1/pool', options);
  }

  /** PATCH /v1/pool */
  setPoolLimits(patch: PoolPatch, options: RequestOptions = {}): Promise<Pool> {
    return this.#json('PATCH', '/v1/pool', { ...options, body: patch });
  }

  // --- events -----------------------------------------------------------------------

  /**
   * GET /v1/events as an async iterator of events and `reset` / `overflow` frames
   * (discriminate on `type`). It reconnects by itself with Last-Event-ID after the
   * connection ends or breaks; the first connection's failure is thrown. Ends when
   * `signal` aborts or the loop is left.
   */
  events(options: EventsOptions = {}): AsyncGenerator<EventFrame> {
    return eventStream(async (query, headers, signal) => this.#ok(await this.#fetch('GET', `/v1/events?${query}`, { headers, signal })), options);
  }

  /** The operation's own name for events(). */
  streamEvents(options: EventsOptions = {}): AsyncGenerator<EventFrame> {
    return this.events(options);
  }

  // --- for harnesses ----------------------------------------------------------------

  /**
   * Long-polls until the work ended (however long that takes) or timeoutMs passed; then
   * answers the work as it is. waitWork() is one long-poll, bounded by MAX_WAIT_MS.
   */
  async waitUntilEnded(id: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Work> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const work = await this.waitWork(id, { timeoutMs: Math.max(0, Math.min(WAIT_SLICE_MS, left)), signal: options.signal });
      if (isTerminal(work.state) || Date.now() >= deadline) return work;
    }
  }

  /**
   * Submits a work that holds the mutex `name` (until signalled, unless `untilSignaled:
   * false`) and resolves once it holds the mutex, with the work as it was at the
   * acquisition. Throws WorkNotHeldError when it ended without holding it (timed_out,
   * cancelled, failed); aborting `signal` cancels the work.
   */
  acquire(name: string, options: AcquireOptions = {}): Promise<Work> {
    return this.#acquire({ mutex: name }, options);
  }

  /** acquire() for one unit of the semaphore `name` (open it first: openSemaphore()). */
  acquireSemaphore(name: string, options: AcquireOptions = {}): Promise<Work> {
    return this.#acquire({ semaphore: name }, options);
  }

  /**
   * Acquires the mutex `name` under a lease, runs `fn` while the service holds it and
   * keeps the lease alive meanwhile, then signals the work and waits until the mutex is
   * released — also when `fn` throws (its error is then the one thrown). Resolves with
   * what `fn` resolved. `lost` aborts if the lease runs out while `fn` runs (the service
   * released the mutex); hold() then throws LeaseLostError after `fn` settles.
   */
  hold<T>(name: string, fn: (work: Work, lost: AbortSignal) => T | Promise<T>, options: HoldOptions = {}): Promise<T> {
    return this.#hold({ mutex: name }, fn, options);
  }

  /** hold() for one unit of the semaphore `name` (open it first: openSemaphore()): at most its maximumCount run `fn` at once. */
  holdSemaphore<T>(name: string, fn: (work: Work, lost: AbortSignal) => T | Promise<T>, options: HoldOptions = {}): Promise<T> {
    return this.#hold({ semaphore: name }, fn, options);
  }

  async #acquire(target: Target, options: AcquireOptions): Promise<Work> {
    const { signal, idempotencyKey, onSubmitted, ...request } = options;
    // Every event of the new work comes after this seq: listening from here misses none.
    const { events } = await this.getStatus({ signal });
    // The submit itself is not aborted: an abort while its answer is on its way would
    // leave a work on the service that nobody knows the id of, so nobody cancels it.
    // It is short; the abort takes effect right after it, cancelling the work.
    const work = await this.submitWork({ untilSignaled: true, ...request, ...target }, { idempotencyKey });
    onSubmitted?.(work);
    try {
      return await this.#untilAcquired(work, events.lastSeq, signal);
    } catch (err) {
      if (signal?.aborted === true) await this.cancelWork(work.id).catch(() => undefined);
      throw err;
    }
  }

  async #hold<T>(target: Target, fn: (work: Work, lost: AbortSignal) => T | Promise<T>, options: HoldOptions): Promise<T> {
    const leaseMs = options.leaseMs ?? DEFAULT_HOLD_LEASE_MS;
    // Renewed from the submit on: a wait for a contended mutex can outlast the lease.
    let renewing: ReturnType<TpmutexClient['keepAlive']> | undefined;
    let work: Work;
    try {
      work = await this.#acquire(target, { ...options, leaseMs, untilSignaled: true, onSubmitted: (submitted) => { renewing = this.keepAlive(submitted.id, leaseMs); } });
    } catch (err) {
      renewing?.stop();
      throw err;
    }
    const lease = renewing!;
    let result: T;
    try {
      result = await fn(work, lease.lost);
    } catch (err) {
      lease.stop();
      // fn's failure is what the caller needs to see; a failed release would only hide it.
      await this.#release(work.id).catch(() => undefined);
      throw err;
    }
    lease.stop();
    const ended = await this.#release(work.id);
    if (lease.lost.aborted || ended.leaseExpired) throw new LeaseLostError(ended);
    return result;
  }

  /**
   * Renews a work's lease every leaseMs/3 until stopped (connection errors are retried by
   * the next renewal); `lost` aborts when the service says the lease ran out or the work ended.
   */
  keepAlive(id: string, leaseMs: number): { lost: AbortSignal; stop(): void } {
    const lost = new AbortController();
    const stopped = new AbortController();
    const timer = setInterval(() => {
      this.keepaliveWork(id, { signal: stopped.signal }).catch((err: unknown) => {
        // A connection error may pass: the next renewal retries within the lease.
        if (err instanceof TpmutexProblemError && (err.is('lease-expired') || err.is('work-finished')) && !stopped.signal.aborted) {
          clearInterval(timer);
          lost.abort(err);
        }
      });
    }, Math.max(1, Math.floor(leaseMs / RENEWALS_PER_LEASE)));
    return {
      lost: lost.signal,
      stop: () => { clearInterval(timer); stopped.abort(); },
    };
  }

  /** Ends a hold: signal (a hold that already ended is fine), then wait until released. */
  async #release(id: string): Promise<Work> {
    try {
      await this.signalWork(id);
    } catch (err) {
      if (!(err instanceof TpmutexProblemError && err.is('work-finished'))) throw err;
    }
    return this.waitUntilEnded(id);
  }

  async #untilAcquired(submitted: Work, afterSeq: number, signal: AbortSignal | undefined): Promise<Work> {
    if (submitted.state !== 'queued' && submitted.state !== 'waiting') return acquisitionOf(submitted);
    const done = new AbortController();
    const stop = (): void => done.abort();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      // An abort that came before the listener (while the submit's answer was on its
      // way) would never fire it: the loop would wait for the acquire timeout.
      signal?.throwIfAborted();
      for await (const frame of this.events({ work: submitted.id, types: ACQUIRE_OUTCOMES, after: afterSeq, signal: done.signal })) {
        if (frame.type === 'reset') {
          // Events were lost: the work itself says where it is.
          const now = await this.getWork(submitted.id, { signal });
          if (now.state !== 'queued' && now.state !== 'waiting') return acquisitionOf(now);
        } else if (frame.type !== 'overflow' && frame.work !== undefined) {
          return acquisitionOf(frame.work);
        }
      }
      throw signal?.reason ?? new Error('the event stream ended');
    } finally {
      signal?.removeEventListener('abort', stop);
      done.abort();
    }
  }

  // --- HTTP -------------------------------------------------------------------------

  async #json<T>(method: string, path: string, call: Call): Promise<T> {
    return (await this.#read<T>(await this.#fetch(method, path, call))).body;
  }

  /** The body of a 2xx answer; throws its problem otherwise. */
  async #read<T>(res: Response): Promise<{ body: T; res: Response }> {
    return { body: await (await this.#ok(res)).json() as T, res };
  }

  /** A PUT that opens or creates: 201 when this call created the object. */
  async #opened<T extends object>(method: string, path: string, call: Call): Promise<Opened<T>> {
    const { body, res } = await this.#read<T>(await this.#fetch(method, path, call));
    return withAnswer(body, { created: res.status === 201 });
  }

  /** A POST that creates a work, with an Idempotency-Key when given. */
  async #submitted(path: string, body: unknown, options: SubmitOptions): Promise<Submitted> {
    const headers: Record<string, string> = options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey };
    const answer = await this.#read<Work>(await this.#fetch('POST', path, { signal: options.signal, body, headers }));
    return withAnswer(answer.body, { replayed: answer.res.headers.get('idempotent-replayed') === 'true' });
  }

  async #fetch(method: string, path: string, call: Call): Promise<Response> {
    const url = `${this.baseUrl}${path}${queryString(call.query)}`;
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...call.headers };
    if (this.#token !== undefined) headers['authorization'] = `Bearer ${this.#token}`;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(url, {
        method, headers,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        ...(call.signal === undefined ? {} : { signal: call.signal }),
      });
    } catch (err) {
      if (call.signal?.aborted === true) throw err;
      throw new TpmutexConnectionError(this.baseUrl, err);
    }
  }

  /** The response if 2xx; else throws a TpmutexProblemError, from its problem+json when it has one. */
  async #ok(res: Response): Promise<Response> {
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN);
    throw new TpmutexProblemError(res.status, problemIn(text), text.slice(0, 200) || res.statusText, Number.isFinite(retryAfter) ? retryAfter : undefined);
  }
}

/**
 * The document with what the HTTP answer said besides it (its status, a header) as
 * properties that are not enumerable: JSON.stringify, a spread and deepEqual see the
 * document exactly as the service sent it.
 */
function withAnswer<T extends object, A extends Record<string, unknown>>(body: T, answer: A): T & Readonly<A> {
  for (const [key, value] of Object.entries(answer)) Object.defineProperty(body, key, { value, enumerable: false });
  return body as T & Readonly<A>;
}

/** The problem in an error answer's body, if it is one of the service's. */
function problemIn(text: string): Problem | undefined {
  try {
    const body = JSON.parse(text) as Partial<Problem> | null;
    return typeof body?.type === 'string' && body.type.startsWith('urn:tpmutex:problem:') ? body as Problem : undefined;
  } catch {
    return undefined;
  }
}

function acquisitionOf(work: Work): Work {
  if (work.state === 'holding' || work.state === 'released') return work;
  throw new WorkNotHeldError(work);
}

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    params.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
