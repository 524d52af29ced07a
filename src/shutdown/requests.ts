/**
 * The ways the service can be asked to shut down (drain), on every platform:
 *
 * - signals: SIGTERM, SIGINT and SIGHUP (close-with-grace listens for those) and SIGBREAK
 *   (Ctrl+Break on Windows, which close-with-grace does not know);
 * - an IPC message `{ type: 'tpmutex:shutdown' }`, when the parent spawned the service
 *   with an IPC channel: on Windows `child.kill()` is TerminateProcess, so this is how a
 *   parent process (the test helpers) stops it gracefully there;
 * - on Windows, when the native DLL loads: a named event (Local\tpmutex-<pid>-shutdown)
 *   and the console control events CTRL_CLOSE_EVENT and CTRL_SHUTDOWN_EVENT (`docker
 *   stop`), which libuv does not deliver to JavaScript (NativeDrainRequest).
 */

/** What asked for the drain through the native request. */
export type DrainReason = 'event' | 'CTRL_CLOSE_EVENT' | 'CTRL_SHUTDOWN_EVENT';

/** The named event and console control handler (src/engine/win32/drain-request.ts). */
export interface NativeDrainRequest {
  /** The event's name, as an operator opens it. */
  readonly name: string;
  /** Whether the console control handler is installed. */
  readonly consoleHandler: boolean;
  /** Resolves when the drain is requested, or with 'done' once done() was called. */
  wait(): Promise<DrainReason | 'done'>;
  /** The drain finished: a console control handler waiting for it returns. */
  done(): void;
  /** done(), then frees the native side. */
  close(): Promise<void>;
}

/** The message a parent sends over the IPC channel to ask for a drain. */
export const SHUTDOWN_MESSAGE = { type: 'tpmutex:shutdown' } as const;

export function isShutdownMessage(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === SHUTDOWN_MESSAGE.type;
}

/** The default name of the drain event: per process, in the session's namespace. */
export function defaultDrainEventName(pid: number): string {
  return `Local\\tpmutex-${pid}-shutdown`;
}

/** The part of `process` this module uses (a fake in tests). */
export interface ProcessLike {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  once(event: 'SIGBREAK', listener: () => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  /** Present when the process has an IPC channel. */
  send?: unknown;
}

/**
 * Calls onRequest with the source of each request: 'SIGBREAK', 'ipc', or the native
 * request's reason; onError if watching the native request fails. The caller decides what a second request does. Returns a function
 * that stops listening (the native wait goes on until the request's done()).
 */
export function listenForShutdownRequests(
  proc: ProcessLike, native: NativeDrainRequest | undefined, onRequest: (source: string) => void, onError: (err: unknown) => void,
): () => void {
  const onBreak = (): void => onRequest('SIGBREAK');
  const onMessage = (message: unknown): void => { if (isShutdownMessage(message)) onRequest('ipc'); };
  let listening = true;
  proc.once('SIGBREAK', onBreak);
  // Only with a channel: a 'message' listener keeps the channel (and the process) alive.
  if (typeof proc.send === 'function') proc.on('message', onMessage);
  if (native !== undefined) {
    native.wait().then((reason) => {
      if (listening && reason !== 'done') onRequest(reason === 'event' ? `event ${native.name}` : reason);
    }, (err: unknown) => {
      if (listening) onError(err); // not a request: the service keeps running
    });
  }
  return () => {
    listening = false;
    proc.removeListener('SIGBREAK', onBreak);
    proc.removeListener('message', onMessage);
  };
}
