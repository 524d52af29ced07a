/**
 * Starts the real service (dist/src/server.js) as a child process on a free port and
 * stops it. Shared by the end-to-end suites and the shutdown tests.
 *
 * The child has an IPC channel: on Windows `child.kill('SIGTERM')` is TerminateProcess
 * (no drain, exit code 1), so there a graceful stop is the IPC shutdown message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SHUTDOWN_MESSAGE } from '../../src/shutdown/requests.js';

export const SERVER_ENTRY = fileURLToPath(new URL('../../src/server.js', import.meta.url));

/** How stop() ends the process: 'drain' is graceful on every platform. */
export type StopHow = 'drain' | NodeJS.Signals;

export interface ServerProcess {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** Every log line the server printed (JSON lines). */
  readonly logs: string[];
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /**
   * Asks for a graceful shutdown without waiting: SIGTERM on POSIX, the IPC shutdown
   * message on Windows.
   */
  requestShutdown(): void;
  /** 'drain' (default: requestShutdown()) or a signal; resolves with the exit code. */
  stop(how?: StopHow): Promise<number | null>;
}

/** `entry`: the script and its arguments, the service by default (the CLI's tests start it as `tpmutex serve`). */
export async function startServer(env: Record<string, string> = {}, timeoutMs = 30_000, entry: readonly string[] = [SERVER_ENTRY]): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--enable-source-maps', ...entry], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const logs: string[] = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${logs.join('\n')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match) { clearTimeout(timer); resolve(match[1]!); }
    });
  });
  // A server that failed to start must not outlive the test that started it.
  const baseUrl = await listening.catch((err: unknown) => { child.kill('SIGKILL'); throw err; });
  const requestShutdown = (): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (process.platform === 'win32') child.send(SHUTDOWN_MESSAGE);
    else child.kill('SIGTERM');
  };
  return {
    baseUrl, child, logs, exited, requestShutdown,
    async stop(how: StopHow = 'drain') {
      if (how === 'drain') requestShutdown();
      else if (child.exitCode === null && child.signalCode === null) child.kill(how);
      return exited;
    },
  };
}
