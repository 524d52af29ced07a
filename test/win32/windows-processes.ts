/**
 * Contender processes for the win32 suites (contender.ts, as node.exe under Wine or
 * natively): another Windows process that opens, takes and abandons the same named
 * mutexes as the service, takes and gives back semaphore units, and waits for, sets and
 * resets events (the control API is documented in contender.ts). Readiness is polled (its port file), never slept for. The
 * service itself is started by test/helpers/server-process.ts.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { READY_TIMEOUT_MS } from '../helpers/server-process.js';
import { until } from '../helpers/wait.js';
import { projectRoot, spawnWindowsNode, windowsLogFile, windowsPath, type WindowsNode, type WindowsProcess } from './wine-env.js';

export interface ContenderStatus { pid: number; threadId: number; waiting: boolean; owned: number }
export interface ContenderProbe { currentCount: number; ownedByCaller: boolean; abandoned: boolean }
export interface ContenderSemaphoreProbe { kind: 'semaphore'; count: number; maximumCount: number }
export interface ContenderEventProbe { kind: 'event'; signaled: boolean; manualReset: boolean }

const q = (name: string | undefined): string => (name === undefined ? '' : `name=${encodeURIComponent(name)}&`);

/** A contender process and a typed client for its control API (see contender.ts). */
export class Contender {
  private constructor(readonly process: WindowsProcess, readonly baseUrl: string) {}

  static async start(node: WindowsNode): Promise<Contender> {
    const portFile = windowsLogFile('contender-port');
    rmSync(portFile, { force: true });
    const proc = spawnWindowsNode(node, [
      windowsPath(node, join(projectRoot, 'dist', 'test', 'win32', 'contender.js')),
      windowsPath(node, portFile),
    ], { logFile: windowsLogFile('contender') });
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

  /** Opens or creates a semaphore (an existing one keeps its own counts). */
  openSemaphore(name: string, initial: number, maximum: number): Promise<{ existed: boolean }> {
    return this.call('POST', `/open?kind=semaphore&${q(name)}initial=${initial}&maximum=${maximum}`);
  }

  /** Opens or creates an event (an existing one keeps its own type and state). */
  openEvent(name: string, manualReset: boolean, initialState: boolean): Promise<{ existed: boolean }> {
    return this.call('POST', `/open?kind=event&${q(name)}manualReset=${manualReset ? 1 : 0}&initialState=${initialState ? 1 : 0}`);
  }

  /**
   * Resolves when the wait ends. A mutex: the contender owns it unless `timeout`
   * (`abandoned`: WAIT_ABANDONED, it owns it too). A semaphore: it holds one unit unless
   * `timeout`. `name` defaults to the object opened last.
   */
  acquire(timeoutMs: number, name?: string): Promise<{ result: 'acquired' | 'abandoned' | 'timeout' }> {
    return this.call('POST', `/acquire?${q(name)}timeoutMs=${timeoutMs}`);
  }

  /** ReleaseMutex, or ReleaseSemaphore(1) (then previousCount is the count before). */
  release(name?: string): Promise<{ released: true; previousCount?: number }> {
    return this.call('POST', `/release?${q(name)}`);
  }

  /** Waits for an event: `signaled` or `timeout` (an auto-reset event is reset by the wait). */
  wait(name: string, timeoutMs: number): Promise<{ result: 'signaled' | 'timeout' }> {
    return this.call('POST', `/wait?${q(name)}timeoutMs=${timeoutMs}`);
  }

  /**
   * Waits for the event and, once it is signaled, tries the mutex `mutex` (opened here
   * before) with timeout 0 at once, inside the contender: what an app woken by the event
   * finds the mutex to be at that moment.
   */
  waitThenAcquire(name: string, timeoutMs: number, mutex: string): Promise<{ result: 'signaled' | 'timeout'; then?: 'acquired' | 'abandoned' | 'timeout' }> {
    return this.call('POST', `/wait?${q(name)}timeoutMs=${timeoutMs}&then=${encodeURIComponent(mutex)}`);
  }

  setEvent(name: string): Promise<{ set: true }> {
    return this.call('POST', `/set?${q(name)}`);
  }

  resetEvent(name: string): Promise<{ reset: true }> {
    return this.call('POST', `/reset?${q(name)}`);
  }

  /** NtQueryMutant of a mutex (the one opened last unless named). */
  probe(name?: string): Promise<ContenderProbe> {
    return this.call('GET', `/probe?${q(name)}`);
  }

  probeSemaphore(name: string): Promise<ContenderSemaphoreProbe> {
    return this.call('GET', `/probe?${q(name)}`);
  }

  probeEvent(name: string): Promise<ContenderEventProbe> {
    return this.call('GET', `/probe?${q(name)}`);
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
