/**
 * The service under benchmark, on either engine: dist/src/server.js in a local Node
 * child process (emulated), or under Windows Node with ENGINE=win32 (Wine on Linux,
 * natively on Windows) through the win32 test harness. The load always comes from this
 * process, over HTTP.
 */
import { Api } from '../e2e/api.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { freePort } from '../helpers/wait.js';
import { provision, unavailableReason, type WindowsNode } from '../win32/wine-env.js';
import { calibrateClock } from './clock-offset.js';
import { Submitter } from './submitter.js';
import type { WorkView } from '../../src/schemas/work.js';

export type BenchEngine = 'emulated' | 'win32';

/** The pool limits of the service under benchmark, and of every in-process or native baseline compared with it. */
export const BENCH_POOL = { minThreads: 4, maxThreads: 16 } as const;

/** What every figure run against the service needs; quiet, and no limit in the way. */
export const BENCH_SERVER_ENV: Readonly<Record<string, string>> = {
  LOG_LEVEL: 'silent', POOL_MIN_THREADS: String(BENCH_POOL.minThreads), POOL_MAX_THREADS: String(BENCH_POOL.maxThreads), EVENT_BUFFER: '100000',
  MAX_QUEUED_WORK: '1000000', MAX_QUEUED_WORK_PER_MUTEX: '1000000', WORK_HISTORY: '20000',
  MAX_EVENT_LOOP_DELAY_MS: '0', SSE_MAX_SUBSCRIBERS: '2000',
};

export interface BenchService {
  readonly baseUrl: string;
  /** POST /v1/work (a lean keep-alive client); rejects unless 202. */
  submit(body: Record<string, unknown>): Promise<WorkView>;
  /** Engine clock − this process's process.hrtime clock, ns: an engine stamp minus this is a local time. */
  readonly clockOffsetNs: bigint;
  stop(): Promise<void>;
}

let windowsNode: WindowsNode | undefined;

/** Windows Node for the win32 variant, provisioned once (throws where it cannot run). */
export function benchWindowsNode(): WindowsNode {
  if (windowsNode !== undefined) return windowsNode;
  const reason = unavailableReason();
  if (reason !== undefined) throw new Error(`--engine win32 cannot run here: ${reason}`);
  windowsNode = provision(() => {});
  return windowsNode;
}

async function startLocal(env: Record<string, string>): Promise<ServerProcess> {
  // BENCH_SERVER_NODE_ARGS: e.g. --cpu-prof, to profile the service under a figure's load.
  const nodeArgs = (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  // The server logs nothing at LOG_LEVEL=silent, so the port is chosen here.
  return startServer({ ENGINE: 'emulated', ...env }, { port: await freePort(), nodeArgs });
}

export async function startBenchService(engine: BenchEngine, env: Record<string, string> = {}): Promise<BenchService> {
  const merged = { ...BENCH_SERVER_ENV, ...env };
  const server = engine === 'emulated'
    ? await startLocal(merged)
    : await startServer({ ...merged, ENGINE: 'win32' }, { windows: benchWindowsNode() });
  const submitter = new Submitter(server.baseUrl);
  try {
    await new Api(server.baseUrl).waitReady(120_000);
    const submit = (body: Record<string, unknown>) => submitter.submit(body);
    // The emulated engine reads this machine's CLOCK_MONOTONIC, like process.hrtime here.
    const offsetNs = engine === 'emulated' ? 0n : await calibrateClock(submit);
    return {
      baseUrl: server.baseUrl, submit, clockOffsetNs: offsetNs,
      stop: async () => { submitter.close(); await server.stop(); },
    };
  } catch (err) {
    submitter.close();
    await server.stop();
    throw err;
  }
}
