/**
 * The Windows processes the win32 suites drive: the service (dist/src/server.js on the
 * win32 engine) and contenders (contender.js), as node.exe under Wine or natively.
 * Readiness is polled (/readyz, the contender's port file), never slept for.
 *
 * A service is stopped gracefully through its named drain event (SHUTDOWN_EVENT, set by
 * request-shutdown.js, another Windows process): no POSIX signal, so the same path works
 * under Wine and on Windows, where a signal is TerminateProcess.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, logDir, projectRoot, spawnWindowsNode, until, windowsPath, type WindowsNode, type WindowsProcess } from './wine-env.js';

/** As the README recommends for the win32 engine (it holds one pool thread for good). */
const UV_THREADPOOL_SIZE = '6';

/** First start of a Wine prefix takes ~10 s, later ones 1–3 s; a loaded CI box more. */
export const READY_TIMEOUT_MS = 120_000;

let serial = 0;
const runTag = `${process.pid}-${Date.now().toString(36)}`;

function logFile(kind: string): string {
  return join(logDir, `${kind}-${runTag}-${++serial}.log`);
}

export interface WindowsServer {
  readonly baseUrl: string;
  readonly process: WindowsProcess;
  /** Its named drain event. */
  readonly shutdownEvent: string;
  /** Sets the drain event from another Windows process; resolves once it is set. */
  requestShutdown(): Promise<void>;
  /**
   * 'drain' (default): requestShutdown(), then the exit code (SIGKILL after
   * READY_TIMEOUT_MS without an exit). A signal: sent as is — under Wine SIGKILL ends
   * the process at once, like TerminateProcess.
   */
  stop(how?: 'drain' | NodeJS.Signals): Promise<number | null>;
}

/** Sets a named event from a Windows process (request-shutdown.js); rejects on failure. */
export async function setNamedEvent(node: WindowsNode, name: string): Promise<void> {
  const proc = spawnWindowsNode(node, [windowsPath(node, join(projectRoot, 'dist', 'test', 'win32', 'request-shutdown.js')), name], {
    logFile: logFile('request-shutdown'),
  });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`request-shutdown.js ${name} exited with ${code}: ${proc.readLog()}`);
}

/**
 * Starts the service under Windows Node with ENGINE=win32 on a free port (or env.PORT)
 * and waits until GET /readyz answers 200 (or, with `until: '/livez'`, until the process
 * merely answers: what a client that does not check readiness sees first).
 */
export async function startWindowsServer(node: WindowsNode, env: Record<string, string> = {}, log = logFile('server'), until_: '/readyz' | '/livez' = '/readyz'): Promise<WindowsServer> {
  const host = env['HOST'] ?? '127.0.0.1';
  const port = env['PORT'] && env['PORT'] !== '0' ? Number(env['PORT']) : await freePort();
  const shutdownEvent = env['SHUTDOWN_EVENT'] ?? `Local\\tpmutex-test-${runTag}-${++serial}-shutdown`;
  const proc = spawnWindowsNode(node, [windowsPath(node, join(projectRoot, 'dist', 'src', 'server.js'))], {
    logFile: log,
    // Checked mode in every run of the harness: the shim verifies the Windows rules Wine ignores.
    env: { ENGINE: 'win32', LOG_LEVEL: 'info', ENGINE_CHECKED: 'true', UV_THREADPOOL_SIZE: UV_THREADPOOL_SIZE, ...env, HOST: host, PORT: String(port), SHUTDOWN_EVENT: shutdownEvent },
  });
  const probeHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const baseUrl = `http://${probeHost.includes(':') ? `[${probeHost}]` : probeHost}:${port}`;
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => { exitCode = code; });
  try {
    await until(`${baseUrl}${until_}`, async () => {
      if (exitCode !== undefined) throw new Error(`the service exited with ${exitCode} before it was ready`);
      try {
        const res = await fetch(`${baseUrl}${until_}`);
        await res.arrayBuffer();
        return res.status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    }, READY_TIMEOUT_MS, 200);
  } catch (err) {
    proc.child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- ${log}\n${proc.readLog().slice(-4000)}`);
  }
  const running = (): boolean => proc.child.exitCode === null && proc.child.signalCode === null;
  const requestShutdown = (): Promise<void> => setNamedEvent(node, shutdownEvent);
  return {
    baseUrl,
    process: proc,
    shutdownEvent,
    requestShutdown,
    async stop(how: 'drain' | NodeJS.Signals = 'drain') {
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

export interface ContenderStatus { pid: number; threadId: number; waiting: boolean; owned: number }
export interface ContenderProbe { currentCount: number; ownedByCaller: boolean; abandoned: boolean }

/** A contender process and a typed client for its control API (see contender.ts). */
export class Contender {
  private constructor(readonly process: WindowsProcess, readonly baseUrl: string) {}

  static async start(node: WindowsNode): Promise<Contender> {
    const portFile = logFile('contender-port');
    rmSync(portFile, { force: true });
    const proc = spawnWindowsNode(node, [
      windowsPath(node, join(projectRoot, 'dist', 'test', 'win32', 'contender.js')),
      windowsPath(node, portFile),
    ], { logFile: logFile('contender') });
    let exitCode: number | null | undefined;
    void proc.exited.then((code) => { exitCode = code; });
    const port = await until('the contender\'s port file', () => {
      if (exitCode !== undefined) throw new Error(`the contender exited with ${exitCode}:\n${proc.readLog()}`);
      const text = existsSync(portFile) ? readFileSync(portFile, 'utf8').trim() : '';
      return /^\d+$/.test(text) ? Number(text) : undefined;
    }, READY_TIMEOUT_MS, 100);
    rmSync(portFile, { force: true });
    return new Contender(proc, `http://127.0.0.1:${port}`);
  }

  private async call<T>(method: string, path: string): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, { method });
    const body = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new Error(`contender ${method} ${path} → ${res.status} ${body.error ?? ''}`);
    return body;
  }

  /** Opens or creates the mutex; with `sddl`, creates it with that security descriptor. */
  open(name: string, sddl?: string): Promise<{ existed: boolean }> {
    return this.call('POST', `/open?name=${encodeURIComponent(name)}${sddl === undefined ? '' : `&sddl=${encodeURIComponent(sddl)}`}`);
  }

  /** Resolves when the wait ends; the contender owns the mutex unless `timeout`. */
  acquire(timeoutMs: number): Promise<{ result: 'acquired' | 'abandoned' | 'timeout' }> {
    return this.call('POST', `/acquire?timeoutMs=${timeoutMs}`);
  }

  release(): Promise<{ released: true }> {
    return this.call('POST', '/release');
  }

  probe(): Promise<ContenderProbe> {
    return this.call('GET', '/probe');
  }

  status(): Promise<ContenderStatus> {
    return this.call('GET', '/status');
  }

  /** Exits the contender with `code` (owning the mutex → abandoned) and waits for it. */
  async exit(code = 0): Promise<number | null> {
    await this.call('POST', `/exit?code=${code}`).catch(() => undefined);
    return this.process.exited;
  }

  kill(): void {
    if (this.process.child.exitCode === null && this.process.child.signalCode === null) this.process.child.kill('SIGKILL');
  }
}
