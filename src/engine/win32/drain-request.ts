/**
 * Bindings to the drain request of the native DLL (src/native/console-ctrl.c): a named
 * event that asks the service to drain, and the console control handler that turns
 * CTRL_CLOSE_EVENT / CTRL_SHUTDOWN_EVENT into that request and keeps Windows from
 * ending the process until the drain is done.
 *
 * Independent of the engine: the service opens it whichever engine runs, whenever the
 * DLL loads (select.ts). The request is polled every POLL_MS from a timer, not
 * waited for: a koffi `.async` wait would hold one of libuv's 4 pool threads for the
 * life of the process, and the pool cannot be enlarged from inside the process (Node 22
 * on Windows sizes it before the first line of the entry script runs: measured under
 * Wine). A poll is one non-blocking call; a drain starts at most POLL_MS late.
 */
import { existsSync } from 'node:fs';
import koffi, { type LibraryHandle } from 'koffi';
import { EngineError } from '../errors.js';
import type { DrainReason, NativeDrainRequest } from '../../shutdown/requests.js';
import { cDWORD, cLONG, cLPCWSTR, cPVOID, type PVOID } from './kernel32.js';
import { shimCandidates } from './shim-path.js';
import { Win32Error } from './win32-error.js';

/** How often the request is looked at. */
export const POLL_MS = 250;

/** tpm_drain_poll's reasons, as in console-ctrl.c. */
const TPM_DRAIN_NONE = 0;
const REASONS: Readonly<Record<number, DrainReason>> = {
  1: 'event',
  2: 'CTRL_CLOSE_EVENT',
  3: 'CTRL_SHUTDOWN_EVENT',
};

/** wincon.h */
export const CTRL_C_EVENT = 0;
export const CTRL_BREAK_EVENT = 1;
export const CTRL_CLOSE_EVENT = 2;
export const CTRL_LOGOFF_EVENT = 5;
export const CTRL_SHUTDOWN_EVENT = 6;

export interface DrainRequestOptions {
  /** The named event, e.g. Local\tpmutex-1234-shutdown. */
  readonly name: string;
  /** Longest wait in the handler for CTRL_CLOSE_EVENT (Windows allows about 5 s). */
  readonly closeBoundMs: number;
  /** Longest wait in the handler for CTRL_SHUTDOWN_EVENT. */
  readonly shutdownBoundMs: number;
  /** Install the console control handler (one per process). */
  readonly consoleHandler: boolean;
}

type KoffiFunction = ReturnType<LibraryHandle['func']>;

interface Functions {
  open: KoffiFunction;
  install: KoffiFunction;
  poll: KoffiFunction;
  done: KoffiFunction;
  close: KoffiFunction;
  invoke: KoffiFunction;
}

let functions: Functions | undefined;

/** Loads the DLL from the first candidate that exists; the error lists every path tried. */
function load(candidates: readonly string[]): Functions {
  if (functions !== undefined) return functions;
  const tried: string[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) { tried.push(`${candidate} (missing)`); continue; }
    try {
      const lib = koffi.load(candidate);
      functions = {
        open: lib.func('tpm_drain_open', cDWORD, [cLPCWSTR, cDWORD, cDWORD, koffi.out(koffi.pointer(cPVOID)), koffi.out(koffi.pointer(cLONG))]),
        install: lib.func('tpm_drain_install', cDWORD, [cPVOID]),
        poll: lib.func('tpm_drain_poll', cDWORD, [cPVOID, koffi.out(koffi.pointer(cDWORD))]),
        done: lib.func('tpm_drain_done', cDWORD, [cPVOID]),
        close: lib.func('tpm_drain_close', cDWORD, [cPVOID]),
        invoke: lib.func('tpm_console_ctrl_invoke', cDWORD, [cDWORD, koffi.out(koffi.pointer(cLONG))]),
      };
      return functions;
    } catch (err) {
      tried.push(`${candidate} (${(err as Error).message})`);
    }
  }
  throw new EngineError('engine_unavailable', `the native DLL for drain requests was not found: ${tried.join('; ')}`);
}

/**
 * Opens the drain request (and installs the console control handler if asked).
 * `existed` is true when an event of that name was already there (it is reset).
 */
export function openDrainRequest(options: DrainRequestOptions, candidates: readonly string[] = shimCandidates()): NativeDrainRequest & { readonly existed: boolean } {
  const f = load(candidates);
  const out: (PVOID | null)[] = [null];
  const existed = [0];
  const err = f.open(options.name, options.closeBoundMs, options.shutdownBoundMs, out, existed) as number;
  if (err !== 0 || !out[0]) throw new Win32Error(err, 'tpm_drain_open');
  const drain = out[0];
  if (options.consoleHandler) {
    const installErr = f.install(drain) as number;
    if (installErr !== 0) {
      f.close(drain);
      throw new Win32Error(installErr, 'tpm_drain_install');
    }
  }
  let pending: Promise<DrainReason | 'done'> | undefined;
  let settle: ((outcome: DrainReason | 'done' | Error) => void) | undefined;
  let closed = false;
  const request: NativeDrainRequest & { existed: boolean } = {
    name: options.name,
    existed: existed[0] === 1,
    consoleHandler: options.consoleHandler,
    wait() {
      pending ??= new Promise((resolve, reject) => {
        // Keeps the process alive while a drain may still be requested; done() ends it.
        const timer = setInterval(() => check(), POLL_MS);
        settle = (outcome) => {
          clearInterval(timer);
          settle = undefined;
          if (outcome instanceof Error) reject(outcome); else resolve(outcome);
        };
        const check = (): void => {
          const reason = [TPM_DRAIN_NONE];
          const code = f.poll(drain, reason) as number;
          if (code !== 0) settle?.(new Win32Error(code, 'tpm_drain_poll'));
          else if (reason[0] !== TPM_DRAIN_NONE) settle?.(REASONS[reason[0] ?? TPM_DRAIN_NONE] ?? 'event');
        };
        check();
      });
      return pending;
    },
    done() {
      if (closed) return;
      const code = f.done(drain) as number;
      if (code !== 0) throw new Win32Error(code, 'tpm_drain_done');
      settle?.('done');
    },
    async close() {
      if (closed) return;
      request.done();
      closed = true;
      f.close(drain);
    },
  };
  return request;
}

/**
 * Test entry point: runs the installed handler routine for a console control event on a
 * libuv worker, as Windows would on the thread it creates for the event. Resolves with
 * the routine's result (true: handled; Windows then ends the process).
 */
export function invokeConsoleCtrlHandler(ctrlType: number, candidates: readonly string[] = shimCandidates()): Promise<boolean> {
  const f = load(candidates);
  return new Promise((resolve, reject) => {
    const handled = [0];
    f.invoke.async(ctrlType, handled, (error: unknown, code: number) => {
      if (error) { reject(error); return; }
      if (code !== 0) { reject(new Win32Error(code, 'tpm_console_ctrl_invoke')); return; }
      resolve(handled[0] === 1);
    });
  });
}
