/**
 * Configuration from the environment. `loadConfig(env)` is pure: it reads only the
 * object it is given (server.ts passes process.env) and throws a ConfigError that
 * lists every bad variable.
 */
import envSchema from 'env-schema';
import { Type, type Static } from 'typebox';

const Int = (description: string, def: number, minimum: number, maximum: number) =>
  Type.Integer({ description, default: def, minimum, maximum });

export const EnvSchema = Type.Object({
  HOST: Type.String({ description: 'Address to listen on', default: '127.0.0.1', minLength: 1 }),
  PORT: Int('TCP port (0 = any free port)', 8080, 0, 65535),
  ENGINE: Type.Union([Type.Literal('auto'), Type.Literal('emulated'), Type.Literal('win32')], {
    description: 'auto = win32 on Windows, emulated elsewhere',
    default: 'auto',
  }),
  POOL_MIN_THREADS: Int('Thread-pool minimum threads', 1, 1, 4096),
  POOL_MAX_THREADS: Int('Thread-pool maximum threads', 64, 1, 4096),
  POOL_THREADS_LIMIT: Int('Highest maxThreads that PATCH /v1/pool accepts', 512, 1, 4096),
  MAX_MUTEXES: Int('Mutexes open at once', 10000, 1, 1_000_000),
  MAX_QUEUED_WORK: Int('Unfinished works (queued, waiting, holding) in total', 10000, 1, 1_000_000),
  MAX_QUEUED_WORK_PER_MUTEX: Int('Unfinished works on one mutex', 1000, 1, 1_000_000),
  MAX_ACQUIRE_TIMEOUT_MS: Int('Largest acquireTimeoutMs', 3_600_000, 0, 2_147_483_646),
  MAX_HOLD_MS: Int('Largest holdMs; also the hold bound of untilSignaled without holdMs', 3_600_000, 0, 2_147_483_646),
  MAX_SPIN_MS: Int('Largest spinMs (CPU-bound work)', 60_000, 0, 2_147_483_646),
  MAX_LABEL_LENGTH: Int('Longest label', 128, 0, 4096),
  MAX_WAIT_MS: Int('Longest long-poll (?wait=terminal&timeoutMs=)', 300_000, 0, 3_600_000),
  BODY_LIMIT: Int('Largest request body in bytes', 16_384, 64, 10_485_760),
  EVENT_BUFFER: Int('Events kept for SSE resume (replay buffer)', 10_000, 1, 10_000_000),
  WORK_HISTORY: Int('Finished works kept (oldest evicted first)', 10_000, 1, 10_000_000),
  SSE_HEARTBEAT_MS: Int('Heartbeat comment interval on SSE streams', 15_000, 10, 3_600_000),
  SSE_MAX_BUFFERED_BYTES: Int('Unsent bytes a slow SSE subscriber may accumulate before it is cut off with `overflow`', 4_194_304, 1024, 1_073_741_824),
  SHUTDOWN_TIMEOUT_MS: Int('How long shutdown waits for running callbacks', 10_000, 0, 600_000),
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
  pool: { minThreads: number; maxThreads: number; threadsLimit: number };
  limits: {
    maxMutexes: number;
    maxQueuedWork: number;
    maxQueuedWorkPerMutex: number;
    maxAcquireTimeoutMs: number;
    maxHoldMs: number;
    maxSpinMs: number;
    maxLabelLength: number;
    maxWaitMs: number;
    bodyLimit: number;
  };
  events: { bufferSize: number; heartbeatMs: number; maxBufferedBytes: number };
  workHistory: number;
  shutdownTimeoutMs: number;
  logLevel: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  let e: Env;
  try {
    // env-schema mutates the schema it is given; hand it a copy.
    e = envSchema<Env>({ schema: structuredClone(EnvSchema) as object, data: { ...env }, env: false, dotenv: false });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
  if (e.POOL_MIN_THREADS > e.POOL_MAX_THREADS) {
    throw new ConfigError(`invalid configuration: POOL_MIN_THREADS (${e.POOL_MIN_THREADS}) must not exceed POOL_MAX_THREADS (${e.POOL_MAX_THREADS})`);
  }
  if (e.POOL_MAX_THREADS > e.POOL_THREADS_LIMIT) {
    throw new ConfigError(`invalid configuration: POOL_MAX_THREADS (${e.POOL_MAX_THREADS}) must not exceed POOL_THREADS_LIMIT (${e.POOL_THREADS_LIMIT})`);
  }
  return {
    host: e.HOST,
    port: e.PORT,
    engine: e.ENGINE,
    pool: { minThreads: e.POOL_MIN_THREADS, maxThreads: e.POOL_MAX_THREADS, threadsLimit: e.POOL_THREADS_LIMIT },
    limits: {
      maxMutexes: e.MAX_MUTEXES,
      maxQueuedWork: e.MAX_QUEUED_WORK,
      maxQueuedWorkPerMutex: e.MAX_QUEUED_WORK_PER_MUTEX,
      maxAcquireTimeoutMs: e.MAX_ACQUIRE_TIMEOUT_MS,
      maxHoldMs: e.MAX_HOLD_MS,
      maxSpinMs: e.MAX_SPIN_MS,
      maxLabelLength: e.MAX_LABEL_LENGTH,
      maxWaitMs: e.MAX_WAIT_MS,
      bodyLimit: e.BODY_LIMIT,
    },
    events: { bufferSize: e.EVENT_BUFFER, heartbeatMs: e.SSE_HEARTBEAT_MS, maxBufferedBytes: e.SSE_MAX_BUFFERED_BYTES },
    workHistory: e.WORK_HISTORY,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  };
}
