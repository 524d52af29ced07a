/**
 * kernel32 wrappers only the Windows tests and their helper programs need (the engine
 * never calls them), in the conventions of src/engine/win32/kernel32.ts: named like the
 * Win32 function, Win32Error{code, fn} on failure. Windows Node only.
 */
import koffi from 'koffi';
import { cBOOL, cDWORD, cHANDLE, cLPCWSTR, WAIT_FAILED, type HANDLE } from '../../src/engine/win32/kernel32.js';
import { Win32Error } from '../../src/engine/win32/win32-error.js';

const kernel32 = koffi.load('kernel32.dll');
const fGetLastError = kernel32.func('__stdcall', 'GetLastError', cDWORD, []);
const fReleaseMutex = kernel32.func('__stdcall', 'ReleaseMutex', cBOOL, [cHANDLE]);
const fReleaseSemaphore = kernel32.func('__stdcall', 'ReleaseSemaphore', cBOOL, [cHANDLE, 'int32_t', koffi.out(koffi.pointer('int32_t'))]);
const fOpenEventW = kernel32.func('__stdcall', 'OpenEventW', cHANDLE, [cDWORD, cBOOL, cLPCWSTR]);
const fSetEvent = kernel32.func('__stdcall', 'SetEvent', cBOOL, [cHANDLE]);
const fWaitForSingleObject = kernel32.func('__stdcall', 'WaitForSingleObject', cDWORD, [cHANDLE, cDWORD]);
const fGetCurrentThreadId = kernel32.func('__stdcall', 'GetCurrentThreadId', cDWORD, []);
const fGetCurrentProcessId = kernel32.func('__stdcall', 'GetCurrentProcessId', cDWORD, []);

function fail(fn: string): never {
  throw new Win32Error(fGetLastError() as number, fn);
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-releasemutex */
export function ReleaseMutex(hMutex: HANDLE): void {
  if (fReleaseMutex(hMutex) === 0) fail('ReleaseMutex');
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-releasesemaphore — returns the previous count. */
export function ReleaseSemaphore(hSemaphore: HANDLE, lReleaseCount: number): number {
  const previous = [0];
  if (fReleaseSemaphore(hSemaphore, lReleaseCount, previous) === 0) fail('ReleaseSemaphore');
  return previous[0] ?? 0;
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-openeventw */
export function OpenEventW(dwDesiredAccess: number, bInheritHandle: boolean, lpName: string): HANDLE {
  const h = fOpenEventW(dwDesiredAccess, bInheritHandle ? 1 : 0, lpName) as HANDLE | null;
  if (h === null || h === 0n) fail('OpenEventW');
  return h;
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-setevent */
export function SetEvent(hEvent: HANDLE): void {
  if (fSetEvent(hEvent) === 0) fail('SetEvent');
}

/**
 * https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-waitforsingleobject
 * Blocks the calling thread: for helper programs, or with a 0 timeout to poll.
 */
export function WaitForSingleObject(hHandle: HANDLE, dwMilliseconds: number): number {
  const r = fWaitForSingleObject(hHandle, dwMilliseconds) as number;
  if (r === WAIT_FAILED) fail('WaitForSingleObject');
  return r;
}

/** https://learn.microsoft.com/windows/win32/api/processthreadsapi/nf-processthreadsapi-getcurrentthreadid */
export function GetCurrentThreadId(): number {
  return fGetCurrentThreadId() as number;
}

/** https://learn.microsoft.com/windows/win32/api/processthreadsapi/nf-processthreadsapi-getcurrentprocessid */
export function GetCurrentProcessId(): number {
  return fGetCurrentProcessId() as number;
}
