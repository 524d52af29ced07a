/**
 * The one launcher of the real service (dist/src/server.js) as a child process, for the
 * end-to-end, shutdown, Wine and benchmark suites:
 *  - locally, under this Node, on a free port (the one it reports listening on, or
 *    `port`); a graceful stop is SIGTERM, or the IPC shutdown message on Windows, where
 *    `child.kill('SIGTERM')` is TerminateProcess (no drain, exit code 1);
 *  - with `windows`, under Windows Node (node.exe under Wine on Linux, natively on
 *    Windows) on the win32 engine, stopped through its named drain event (SHUTDOWN_EVENT,
 *    set by request-shutdown.js, another Windows process), since no POSIX signal means the
 *    same thing there. Readiness is polled, never slept for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SHUTDOWN_MESSAGE } from '../../src/shutdown/requests.js';
import {
  nextSerial, projectRoot, runTag, spawnWindowsNode, windowsLogFile, windowsPath,
  type WindowsNode, type WindowsProcess,
} from '../win32/wine-env.js';
import { freePort, until } from './wait.js';

export const SERVER_ENTRY = fileURLToPath(new URL('../../src/server.js', import.meta.url));

/** First start of a Wine prefix takes ~10 s, later ones 1–3 s; a loaded CI box more. */
export const READY_TIMEOUT_MS = 120_000;

/** How stop() ends the process: 'drain' is graceful on every platform. */
export type StopHow = 'drain' | NodeJS.Signals;

export interface ServerProcess {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** Every log line the server printed so far (JSON lines). */
  readonly logs: readonly string[];
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Asks for a graceful shutdown without waiting for the exit. */
  requestShutdown(): Promise<void>;
  /** 'drain' (default: requestShutdown()) or a signal; resolves with the exit code. */
  stop(how?: StopHow): Promise<number | null>;
}

export interface WindowsServerProcess extends ServerProcess {
  readonly process: WindowsProcess;
  /** Its named drain event. */
  readonly shutdownEvent: string;
}

export interface LocalOptions {
  /** Listen here and wait for /livez (for a server that logs nothing); default: PORT=0 and its log line. */
  port?: number;
  /** Node options before the entry point (default --enable-source-maps). */
  nodeArgs?: readonly string[];
  /** The script and its arguments: the service by default (the CLI's tests start it as `tpmutex serve`). */
  entry?: readonly string[];
  timeoutMs?: number;
}

export interface WindowsOptions {
  windows: WindowsNode;
  /** Where node.exe's output goes. */
  logFile?: string;
  /** What must answer 200 before the server counts as started (default /readyz). */
  readyPath?: '/readyz' | '/livez';
}

export function startServer(env?: Record<string, string>, options?: LocalOptions): Promise<ServerProcess>;
export function startServer(env: Record<string, string>, options: WindowsOptions): Promise<WindowsServerProcess>;
export function startServer(env: Record<string, string> = {}, options: LocalOptions | WindowsOptions = {}): Promise<ServerProcess> {
  return 'windows' in options ? startWindows(env, options) : startLocal(env, options);
}

async function startLocal(env: Record<string, string>, options: LocalOptions): Promise<ServerProcess> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? ['--enable-source-maps']), ...(options.entry ?? [SERVER_ENTRY])], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env, ...(options.port === undefined ? {} : { PORT: String(options.port) }) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const logs: string[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
  const stdout = createInterface({ input: child.stdout! });
  stdout.on('line', (line) => logs.push(line));
  const listening = options.port === undefined
    ? new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
      void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${logs.join('\n')}`)));
      stdout.on('line', (line) => {
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (match) { clearTimeout(timer); resolve(match[1]!); }
      });
    })
    : answering(`http://127.0.0.1:${options.port}`, '/livez', exited, timeoutMs);
  // A server that failed to start must not outlive the test that started it.
  const baseUrl = await listening.catch((err: unknown) => { child.kill('SIGKILL'); throw err; });
  const requestShutdown = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (process.platform === 'win32') child.send(SHUTDOWN_MESSAGE);
    else child.kill('SIGTERM');
  };
  return {
    baseUrl, child, logs, exited, requestShutdown,
    async stop(how: StopHow = 'drain') {
      if (how === 'drain') await requestShutdown();
      else if (child.exitCode === null && child.signalCode === null) child.kill(how);
      return exited;
    },
  };
}

/** Resolves with `baseUrl` once `path` answers 200; rejects if the process exits first or time runs out. */
async function answering(baseUrl: string, path: string, exited: Promise<number | null>, timeoutMs: number): Promise<string> {
  let exitCode: number | null | undefined;
  void exited.then((code) => { exitCode = code; });
  await until(`${baseUrl}${path}`, async () => {
    if (exitCode !== undefined) throw new Error(`the service exited with ${exitCode} before it was ready`);
    try {
      const res = await fetch(`${baseUrl}${path}`);
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    } catch {
      return undefined;
    }
  }, timeoutMs, 200);
  return baseUrl;
}

/** Sets a named event from a Windows process (request-shutdown.js); rejects on failure. */
async function setNamedEvent(node: WindowsNode, name: string): Promise<void> {
  const proc = spawnWindowsNode(node, [windowsPath(node, join(projectRoot, 'dist', 'test', 'win32', 'request-shutdown.js')), name], {
    logFile: windowsLogFile('request-shutdown'),
  });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`request-shutdown.js ${name} exited with ${code}: ${proc.readLog()}`);
}

/** ENGINE=win32 on a free port (or env.PORT), in checked mode, with its own drain event. */
async function startWindows(env: Record<string, string>, options: WindowsOptions): Promise<WindowsServerProcess> {
  const node = options.windows;
  const log = options.logFile ?? windowsLogFile('server');
  const host = env['HOST'] ?? '127.0.0.1';
  const port = env['PORT'] && env['PORT'] !== '0' ? Number(env['PORT']) : await freePort();
  const shutdownEvent = env['SHUTDOWN_EVENT'] ?? `Local\\tpmutex-test-${runTag}-${nextSerial()}-shutdown`;
  const proc = spawnWindowsNode(node, [windowsPath(node, join(projectRoot, 'dist', 'src', 'server.js'))], {
    logFile: log,
    // Checked mode in every run of the harness: the shim verifies the Windows rules Wine ignores.
    env: { ENGINE: 'win32', LOG_LEVEL: 'info', ENGINE_CHECKED: 'true', ...env, HOST: host, PORT: String(port), SHUTDOWN_EVENT: shutdownEvent },
  });
  const probeHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const baseUrl = `http://${probeHost.includes(':') ? `[${probeHost}]` : probeHost}:${port}`;
  try {
    await answering(baseUrl, options.readyPath ?? '/readyz', proc.exited, READY_TIMEOUT_MS);
  } catch (err) {
    proc.child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- ${log}\n${proc.readLog().slice(-4000)}`);
  }
  const running = (): boolean => proc.child.exitCode === null && proc.child.signalCode === null;
  const requestShutdown = (): Promise<void> => setNamedEvent(node, shutdownEvent);
  return {
    baseUrl,
    child: proc.child,
    get logs() { return proc.readLog().split(/\r?\n/).filter((line) => line !== ''); },
    exited: proc.exited,
    process: proc,
    shutdownEvent,
    requestShutdown,
    /**
     * 'drain': requestShutdown(), then the exit code (SIGKILL after READY_TIMEOUT_MS
     * without an exit). A signal is sent as is: under Wine SIGKILL ends the process at
     * once, like TerminateProcess.
     */
    async stop(how: StopHow = 'drain') {
      if (!running()) return proc.exited;
      if (how !== 'drain') {
        proc.child.kill(how);
        return proc.exited;
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        await requestShutdown();
        const exited = await Promise.race([proc.exited, new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), READY_TIMEOUT_MS); })]);
        if (exited !== 'late') return exited;
        throw new Error(`no exit within ${READY_TIMEOUT_MS} ms of the drain request`);
      } catch (err) {
        if (running()) proc.child.kill('SIGKILL');
        await proc.exited;
        throw new Error(`${(err as Error).message}\n--- ${log}\n${proc.readLog().slice(-4000)}`);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
