/**
 * Contender processes for the win32 suites (contender.ts, as node.exe under Wine or
 * natively): another Windows process that opens, takes and abandons the same named
 * mutexes as the service. Readiness is polled (its port file), never slept for. The
 * service itself is started by test/helpers/server-process.ts.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { READY_TIMEOUT_MS } from '../helpers/server-process.js';
import { until } from '../helpers/wait.js';
import { projectRoot, spawnWindowsNode, windowsLogFile, windowsPath, type WindowsNode, type WindowsProcess } from './wine-env.js';

export interface ContenderStatus { pid: number; threadId: number; waiting: boolean; owned: number }
export interface ContenderProbe { currentCount: number; ownedByCaller: boolean; abandoned: boolean }

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
