/** Long-polling: requests waiting for a work to turn terminal (GET /v1/work/{id}?wait). */
export class TerminalWaiters {
  private readonly byWork = new Map<string, Set<() => void>>();

  /** Resolves on `release(workId)`, after `timeoutMs`, or when aborted, whichever is first. */
  wait(workId: string, timeoutMs: number, abort?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiters = this.byWork.get(workId) ?? new Set<() => void>();
      this.byWork.set(workId, waiters);
      const done = () => {
        clearTimeout(timer);
        abort?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0) this.byWork.delete(workId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      abort?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  /** The work turned terminal: its waiters resolve in a microtask, after the caller publishes the terminal event. */
  release(workId: string): void {
    const waiters = this.byWork.get(workId);
    if (waiters) queueMicrotask(() => { for (const done of [...waiters]) done(); });
  }
}
