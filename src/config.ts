/**
 * Configuration from the environment. `loadConfig(env)` is pure: it reads only the
 * object it is given (server.ts passes process.env), plus API_TOKENS_FILE through the
 * file reader it is handed, and throws a ConfigError that lists every bad variable:
 * the schema's findings first, or else every cross-field and format check that failed,
 * one line each.
 */
import { readFileSync } from 'node:fs';
import envSchema from 'env-schema';
import { Type, type Static } from 'typebox';
import { compileNamePatterns } from './policy/glob.js';

/** The unauthenticated paths AUTH_OPEN_PATHS may name. */
export const OPENABLE_PATHS = ['/livez', '/readyz', '/metrics', '/openapi.json', '/docs'] as const;
export type OpenablePath = typeof OPENABLE_PATHS[number];

/** Requests per window per token when tokens are configured and RATE_LIMIT_MAX is not set. */
export const DEFAULT_RATE_LIMIT_WITH_TOKENS = 6000;

const Int = (description: string, def: number, minimum: number, maximum: number) =>
  Type.Integer({ description, default: def, minimum, maximum });

export const EnvSchema = Type.Object({
  HOST: Type.String({ description: 'Address to listen on', default: '127.0.0.1', minLength: 1 }),
  PORT: Int('TCP port (0 = any free port)', 8080, 0, 65535),
  ENGINE: Type.Union([Type.Literal('auto'), Type.Literal('emulated'), Type.Literal('win32')], {
    description: 'auto = win32 on Windows, emulated elsewhere',
    default: 'auto',
  }),
  ENGINE_CHECKED: Type.Boolean({
    description: 'Checked mode (win32 engine): before each registration the shim verifies the rules that real Windows enforces by killing the process and Wine ignores (the thread owns the mutex exactly once, one callback-return action of each kind, the handle is open); a violation fails the work with rule_violation. Costs an NtQueryMutant per acquire and release. The test harnesses turn it on',
    default: false,
  }),
  POOL_MIN_THREADS: Int('Thread-pool minimum threads', 1, 1, 4096),
  POOL_MAX_THREADS: Int('Thread-pool maximum threads', 64, 1, 4096),
  POOL_THREADS_LIMIT: Int('Highest maxThreads that PATCH /v1/pool accepts', 512, 1, 4096),
  MAX_MUTEXES: Int('Mutexes open at once', 10000, 1, 1_000_000),
  MAX_QUEUED_WORK: Int('Unfinished works (queued, waiting, holding) in total', 10000, 1, 1_000_000),
  MAX_QUEUED_WORK_PER_MUTEX: Int('Unfinished works on one mutex or semaphore', 1000, 1, 1_000_000),
  MAX_ACQUIRE_TIMEOUT_MS: Int('Largest acquireTimeoutMs', 3_600_000, 0, 2_147_483_646),
  MAX_HOLD_MS: Int('Largest holdMs; also the hold bound of untilSignaled without holdMs', 3_600_000, 0, 2_147_483_646),
  MAX_LEASE_MS: Int('Largest leaseMs (POST /v1/work, keepalive): the longest a work whose client went away can keep its mutex', 3_600_000, 100, 2_147_483_646),
  MAX_SPIN_MS: Int('Largest spinMs (CPU-bound work)', 60_000, 0, 2_147_483_646),
  MAX_LABEL_LENGTH: Int('Longest label', 128, 0, 4096),
  MAX_WAIT_MS: Int('Longest long-poll (?wait=terminal&timeoutMs=)', 300_000, 0, 3_600_000),
  BODY_LIMIT: Int('Largest request body in bytes', 16_384, 64, 10_485_760),
  EVENT_BUFFER: Int('Events kept for SSE resume (replay buffer)', 10_000, 1, 10_000_000),
  WORK_HISTORY: Int('Finished works kept (oldest evicted first)', 10_000, 1, 10_000_000),
  SSE_HEARTBEAT_MS: Int('Heartbeat comment interval on SSE streams', 15_000, 10, 3_600_000),
  SSE_MAX_BUFFERED_BYTES: Int('Unsent bytes a slow SSE subscriber may accumulate before it is cut off with `overflow`', 4_194_304, 1024, 1_073_741_824),
  SHUTDOWN_TIMEOUT_MS: Int('How long shutdown waits for running callbacks', 10_000, 0, 600_000),
  SHUTDOWN_DELAY_MS: Int('After SIGTERM/SIGINT: how long /readyz answers 503 and new work is refused before queued work is cancelled and holds end (lets load balancers stop routing first)', 0, 0, 600_000),
  SHUTDOWN_EVENT: Type.String({ description: 'Windows: the named event that asks the service to drain when set (Global\\x, Local\\x or x); empty = Local\\tpmutex-<pid>-shutdown', default: '' }),
  API_TOKENS: Type.String({ description: 'Bearer tokens, comma-separated (each 16–512 visible ASCII characters). None (and no API_TOKENS_FILE) = no authentication, loopback HOST only', default: '' }),
  API_TOKENS_FILE: Type.String({ description: 'File with bearer tokens, one per line (blank lines and # comments ignored); added to API_TOKENS', default: '' }),
  AUTH_OPEN_PATHS: Type.String({
    description: `Paths answered without a token when authentication is on, comma-separated, from: ${OPENABLE_PATHS.join(' ')} (empty = none)`,
    default: '/livez,/readyz',
  }),
  OBJECT_ALLOW: Type.Optional(Type.String({ description: 'Glob patterns (comma-separated; * = any run of characters, ? = one character) over the full normalised name (Global\\x, Local\\x) of every object kind (mutexes, semaphores, event objects); a name matching none → 403. Default *', minLength: 1 })),
  OBJECT_GLOBAL: Type.Optional(Type.Boolean({ description: 'Allow names in the Global\\ namespace for every object kind (false → 403 for every Global\\ name). Default true' })),
  MUTEX_ALLOW: Type.Optional(Type.String({ description: 'Deprecated alias of OBJECT_ALLOW (it always covered every kind); setting both is an error', minLength: 1 })),
  MUTEX_GLOBAL: Type.Optional(Type.Boolean({ description: 'Deprecated alias of OBJECT_GLOBAL; setting both is an error' })),
  MAX_SEMAPHORES: Int('Semaphores open at once', 10000, 1, 1_000_000),
  MAX_EVENT_OBJECTS: Int('Event objects open at once', 10000, 1, 1_000_000),
  MAX_SEMAPHORE_COUNT: Int('Largest maximumCount PUT /v1/semaphores/{name} accepts (Windows allows up to 2147483647)', 1_000_000, 1, 2_147_483_647),
  SSE_MAX_SUBSCRIBERS: Int('Open /v1/events streams at once (more → 429)', 1000, 1, 1_000_000),
  RATE_LIMIT_MAX: Type.Optional(Type.Integer({ description: 'Requests per client per RATE_LIMIT_WINDOW_MS (client = token, or IP without authentication; more → 429). 0 = off. Default: 6000 with tokens, off without (loopback only, every client is the same address)', minimum: 0, maximum: 100_000_000 })),
  RATE_LIMIT_WINDOW_MS: Int('Rate-limit window', 60_000, 1000, 86_400_000),
  MAX_EVENT_LOOP_DELAY_MS: Int('Mean event-loop delay above which requests are shed with 503 (0 = off); /livez and /metrics always answer', 1000, 0, 600_000),
  MAX_HEAP_USED_BYTES: Int('Heap use above which requests are shed with 503 (0 = off)', 0, 0, Number.MAX_SAFE_INTEGER),
  CORS_ORIGINS: Type.String({ description: 'Origins allowed to call the API from a browser, comma-separated (e.g. https://dash.example); empty = no CORS headers (browsers refuse cross-origin calls)', default: '' }),
  TRUST_PROXY: Type.Boolean({ description: 'Take the client address from X-Forwarded-For (only behind a reverse proxy you control): used for per-IP rate limits and logs', default: false }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), {
    description: 'pino log level',
    default: 'info',
  }),
});

export type Env = Static<typeof EnvSchema>;

export interface Config {
  host: string;
  port: number;
  engine: 'auto' | 'emulated' | 'win32';
  /** ENGINE_CHECKED: the engine's checked mode (see EngineOptions.checked). */
  engineChecked: boolean;
  pool: { minThreads: number; maxThreads: number; threadsLimit: number };
  limits: {
    maxMutexes: number;
    maxSemaphores: number;
    maxEventObjects: number;
    maxSemaphoreCount: number;
    maxQueuedWork: number;
    maxQueuedWorkPerMutex: number;
    maxAcquireTimeoutMs: number;
    maxHoldMs: number;
    maxLeaseMs: number;
    maxSpinMs: number;
    maxLabelLength: number;
    maxWaitMs: number;
    bodyLimit: number;
    sseMaxSubscribers: number;
  };
  events: { bufferSize: number; heartbeatMs: number; maxBufferedBytes: number };
  workHistory: number;
  shutdownTimeoutMs: number;
  shutdownDelayMs: number;
  /** The drain event's name; undefined = the per-process default. */
  shutdownEvent: string | undefined;
  logLevel: string;
  /** tokens empty = authentication off (then host is loopback). */
  auth: { tokens: readonly string[]; openPaths: readonly OpenablePath[] };
  /** allowVar/globalVar: the variable each value came from (OBJECT_* or its MUTEX_* alias), for messages. */
  names: { allow: readonly string[]; global: boolean; allowVar: string; globalVar: string };
  /** max 0 = off. */
  rateLimit: { max: number; windowMs: number };
  pressure: { maxEventLoopDelayMs: number; maxHeapUsedBytes: number };
  cors: { origins: readonly string[] };
  trustProxy: boolean;
}

export interface ConfigIo {
  /** Reads API_TOKENS_FILE (injected so tests need no files). */
  readFile(path: string): string;
}

const defaultIo: ConfigIo = { readFile: (path) => readFileSync(path, 'utf8') };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>, io: ConfigIo = defaultIo): Config {
  let e: Env;
  try {
    // env-schema mutates the schema it is given; hand it a copy.
    e = envSchema<Env>({ schema: structuredClone(EnvSchema) as object, data: { ...env }, env: false, dotenv: false });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
  // Every check runs, so one start names everything to fix.
  const problems: string[] = [];
  const invalid = (what: string) => problems.push(`invalid configuration: ${what}`);
  if (e.POOL_MIN_THREADS > e.POOL_MAX_THREADS) {
    invalid(`POOL_MIN_THREADS (${e.POOL_MIN_THREADS}) must not exceed POOL_MAX_THREADS (${e.POOL_MAX_THREADS})`);
  }
  if (e.POOL_MAX_THREADS > e.POOL_THREADS_LIMIT) {
    invalid(`POOL_MAX_THREADS (${e.POOL_MAX_THREADS}) must not exceed POOL_THREADS_LIMIT (${e.POOL_THREADS_LIMIT})`);
  }
  const tokens = loadTokens(e, io, invalid);
  if (tokens.length === 0 && !isLoopback(e.HOST)) {
    problems.push(`refusing to start: HOST=${e.HOST} is not a loopback address and no API tokens are configured; anyone who can reach it could take and hold your locks. Set API_TOKENS or API_TOKENS_FILE, or listen on 127.0.0.1`);
  }
  const names = namePolicy(e, invalid);
  const openPaths = list(e.AUTH_OPEN_PATHS);
  const unknownPath = openPaths.find((p) => !(OPENABLE_PATHS as readonly string[]).includes(p));
  if (unknownPath !== undefined) {
    invalid(`AUTH_OPEN_PATHS: ${JSON.stringify(unknownPath)} is not one of ${OPENABLE_PATHS.join(', ')}`);
  }
  if (e.SHUTDOWN_EVENT !== '' && !/^(?:(?:Global|Local)\\)?[^\\]{1,250}$/.test(e.SHUTDOWN_EVENT)) {
    invalid(`SHUTDOWN_EVENT: ${JSON.stringify(e.SHUTDOWN_EVENT)} is not an event name like Local\\name or Global\\name (at most 250 characters, no other backslash)`);
  }
  const origins = list(e.CORS_ORIGINS);
  const badOrigin = origins.find((o) => !/^https?:\/\/[^/\s,]+$/.test(o));
  if (badOrigin !== undefined) {
    invalid(`CORS_ORIGINS: ${JSON.stringify(badOrigin)} is not an origin like https://host[:port]`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return {
    host: e.HOST,
    port: e.PORT,
    engine: e.ENGINE,
    engineChecked: e.ENGINE_CHECKED,
    pool: { minThreads: e.POOL_MIN_THREADS, maxThreads: e.POOL_MAX_THREADS, threadsLimit: e.POOL_THREADS_LIMIT },
    limits: {
      maxMutexes: e.MAX_MUTEXES,
      maxSemaphores: e.MAX_SEMAPHORES,
      maxEventObjects: e.MAX_EVENT_OBJECTS,
      maxSemaphoreCount: e.MAX_SEMAPHORE_COUNT,
      maxQueuedWork: e.MAX_QUEUED_WORK,
      maxQueuedWorkPerMutex: e.MAX_QUEUED_WORK_PER_MUTEX,
      maxAcquireTimeoutMs: e.MAX_ACQUIRE_TIMEOUT_MS,
      maxHoldMs: e.MAX_HOLD_MS,
      maxLeaseMs: e.MAX_LEASE_MS,
      maxSpinMs: e.MAX_SPIN_MS,
      maxLabelLength: e.MAX_LABEL_LENGTH,
      maxWaitMs: e.MAX_WAIT_MS,
      bodyLimit: e.BODY_LIMIT,
      sseMaxSubscribers: e.SSE_MAX_SUBSCRIBERS,
    },
    events: { bufferSize: e.EVENT_BUFFER, heartbeatMs: e.SSE_HEARTBEAT_MS, maxBufferedBytes: e.SSE_MAX_BUFFERED_BYTES },
    workHistory: e.WORK_HISTORY,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    shutdownDelayMs: e.SHUTDOWN_DELAY_MS,
    shutdownEvent: e.SHUTDOWN_EVENT === '' ? undefined : e.SHUTDOWN_EVENT,
    logLevel: e.LOG_LEVEL,
    auth: { tokens, openPaths: openPaths as OpenablePath[] },
    names,
    rateLimit: { max: e.RATE_LIMIT_MAX ?? (tokens.length > 0 ? DEFAULT_RATE_LIMIT_WITH_TOKENS : 0), windowMs: e.RATE_LIMIT_WINDOW_MS },
    pressure: { maxEventLoopDelayMs: e.MAX_EVENT_LOOP_DELAY_MS, maxHeapUsedBytes: e.MAX_HEAP_USED_BYTES },
    cors: { origins },
    trustProxy: e.TRUST_PROXY,
  };
}

/**
 * OBJECT_ALLOW / OBJECT_GLOBAL, or their older names MUTEX_ALLOW / MUTEX_GLOBAL (kept so
 * existing deployments keep working). Setting both names of one setting is an error
 * rather than a silent precedence: the two may disagree and one would be ignored.
 */
function namePolicy(e: Env, invalid: (what: string) => void): Config['names'] {
  if (e.OBJECT_ALLOW !== undefined && e.MUTEX_ALLOW !== undefined) invalid('OBJECT_ALLOW and MUTEX_ALLOW are both set; MUTEX_ALLOW is its old name: keep only OBJECT_ALLOW');
  if (e.OBJECT_GLOBAL !== undefined && e.MUTEX_GLOBAL !== undefined) invalid('OBJECT_GLOBAL and MUTEX_GLOBAL are both set; MUTEX_GLOBAL is its old name: keep only OBJECT_GLOBAL');
  const allowVar = e.OBJECT_ALLOW === undefined && e.MUTEX_ALLOW !== undefined ? 'MUTEX_ALLOW' : 'OBJECT_ALLOW';
  const globalVar = e.OBJECT_GLOBAL === undefined && e.MUTEX_GLOBAL !== undefined ? 'MUTEX_GLOBAL' : 'OBJECT_GLOBAL';
  const allow = list(e.OBJECT_ALLOW ?? e.MUTEX_ALLOW ?? '*');
  try {
    compileNamePatterns(allow);
  } catch (err) {
    invalid(`${allowVar}: ${(err as Error).message}`);
  }
  if (allow.length === 0) invalid(`${allowVar} must name at least one pattern (use * for any name)`);
  return { allow, global: e.OBJECT_GLOBAL ?? e.MUTEX_GLOBAL ?? true, allowVar, globalVar };
}

const list = (text: string): string[] => text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

// Visible ASCII only: a token travels in a header, and a space or a control character
// there is a copy-paste accident, not a secret.
const TOKEN = /^[\x21-\x7e]{16,512}$/;

/** API_TOKENS and the lines of API_TOKENS_FILE, checked, without duplicates; what is wrong goes to `invalid`. */
function loadTokens(e: Env, io: ConfigIo, invalid: (what: string) => void): string[] {
  const found: { token: string; where: string }[] = list(e.API_TOKENS).map((token, i) => ({ token, where: `API_TOKENS entry ${i + 1}` }));
  if (e.API_TOKENS_FILE !== '') {
    let text = '';
    try {
      text = io.readFile(e.API_TOKENS_FILE);
    } catch (err) {
      invalid(`API_TOKENS_FILE ${e.API_TOKENS_FILE} cannot be read: ${(err as Error).message}`);
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const token = line.trim();
      if (token !== '' && !token.startsWith('#')) found.push({ token, where: `API_TOKENS_FILE line ${i + 1}` });
    });
  }
  // Never echo a token: the message names where the bad one is, not what it is.
  const bad = found.find((t) => !TOKEN.test(t.token));
  if (bad) invalid(`${bad.where}: a token must be 16–512 visible ASCII characters (no spaces)`);
  return [...new Set(found.map((t) => t.token))];
}

/** 127.0.0.0/8, ::1 and localhost: the only addresses an unauthenticated service may listen on. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v4);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}
