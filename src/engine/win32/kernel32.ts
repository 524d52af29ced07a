/**
 * kernel32 bindings through koffi, in the style of Septh/libwin32: koffi types as
 * `c`-prefixed constants, one thin typed wrapper per function, named exactly like the
 * Win32 function and linking its Microsoft documentation page. A wrapper whose
 * function failed reads GetLastError() right after the call (koffi preserves the
 * thread's last-error value between its calls) and throws Win32Error{code, fn}.
 *
 * Only src/engine/win32/* imports this module, and only on Windows (the engine loads
 * it lazily in start()); importing it elsewhere fails at koffi.load('kernel32.dll').
 * Wrappers only tests need are in test/win32/kernel32-for-tests.ts.
 */
import koffi from 'koffi';
import { Win32Error } from './win32-error.js';

/** Koffi 3 represents pointers and handles as BigInt; NULL is `null`. */
export type HANDLE = bigint;
export type PVOID = bigint;

export const cVOID = koffi.types.void;
export const cBOOL = koffi.alias('BOOL', 'int32_t');
export const cDWORD = koffi.alias('DWORD', 'uint32_t');
export const cULONG = koffi.alias('ULONG', 'uint32_t');
export const cLONG = koffi.alias('LONG', 'int32_t');
export const cULONG_PTR = koffi.alias('ULONG_PTR', 'uintptr_t');
export const cLONGLONG = koffi.alias('LONGLONG', 'int64_t');
export const cHANDLE = koffi.alias('HANDLE', 'void *');
export const cPVOID = koffi.alias('PVOID', 'void *');
export const cLPCWSTR = koffi.alias('LPCWSTR', 'const char16_t *');
export const cPTP_POOL = koffi.alias('PTP_POOL', 'void *');
export const cPTP_CLEANUP_GROUP = koffi.alias('PTP_CLEANUP_GROUP', 'void *');
export const cPTP_WORK = koffi.alias('PTP_WORK', 'void *');
export const cPTP_WAIT = koffi.alias('PTP_WAIT', 'void *');
export const cPTP_CALLBACK_ENVIRON = koffi.alias('PTP_CALLBACK_ENVIRON', 'void *');

/** OVERLAPPED_ENTRY (minwinbase.h), 32 bytes on x64. */
export const cOVERLAPPED_ENTRY = koffi.struct('OVERLAPPED_ENTRY', {
  lpCompletionKey: cULONG_PTR,
  lpOverlapped: 'uintptr_t', // a pointer, but we only ever carry a number in it
  Internal: cULONG_PTR,
  dwNumberOfBytesTransferred: cDWORD,
});

/**
 * TP_CALLBACK_ENVIRON_V3 (winnt.h), x64 layout (docs/design.md §1.8): 72 bytes. The
 * InitializeThreadpoolEnvironment family are inline functions in the SDK headers, so
 * the engine fills this struct itself.
 */
export const cTP_CALLBACK_ENVIRON_V3 = koffi.struct('TP_CALLBACK_ENVIRON_V3', {
  Version: cDWORD, // 3
  Pool: cPTP_POOL,
  CleanupGroup: cPTP_CLEANUP_GROUP,
  CleanupGroupCancelCallback: cPVOID,
  RaceDll: cPVOID,
  ActivationContext: cPVOID,
  FinalizationCallback: cPVOID,
  Flags: cDWORD, // bit 0: LongFunction
  CallbackPriority: cDWORD, // TP_CALLBACK_PRIORITY_NORMAL = 1
  Size: cDWORD, // sizeof(TP_CALLBACK_ENVIRON_V3) = 72
});

export const INFINITE = 0xffffffff;
export const WAIT_OBJECT_0 = 0;
export const WAIT_ABANDONED = 0x80;
export const WAIT_TIMEOUT = 258;
export const WAIT_FAILED = 0xffffffff;
/** SYNCHRONIZE | MUTANT_QUERY_STATE | DELETE | READ_CONTROL | WRITE_DAC | WRITE_OWNER */
export const MUTEX_ALL_ACCESS = 0x1f0001;
/** Wait on the object (WaitForMultipleObjects needs it). */
export const SYNCHRONIZE = 0x100000;
/** Release the mutex (ReleaseMutex, ReleaseMutexWhenCallbackReturns); the same bit is MUTANT_QUERY_STATE, which NtQueryMutant needs. */
export const MUTEX_MODIFY_STATE = 0x0001;
/**
 * All the engine needs of a mutex: wait, release, query. MUTEX_ALL_ACCESS would also
 * ask for DELETE, READ_CONTROL, WRITE_DAC and WRITE_OWNER, which the security
 * descriptor of another account's (or a service's) mutex refuses: ERROR_ACCESS_DENIED
 * for a mutex we could otherwise use.
 */
export const MUTEX_LEAST_ACCESS = SYNCHRONIZE | MUTEX_MODIFY_STATE;
export const EVENT_ALL_ACCESS = 0x1f0003;
export const EVENT_MODIFY_STATE = 0x0002;
export const CREATE_EVENT_MANUAL_RESET = 0x1;
export const CREATE_EVENT_INITIAL_SET = 0x2;
/** EVENT_QUERY_STATE: NtQueryEvent needs it. */
export const EVENT_QUERY_STATE = 0x0001;
/** All the engine needs of a named event: wait (a client may), set/reset, query (docs/design.md §1). */
export const EVENT_LEAST_ACCESS = SYNCHRONIZE | EVENT_MODIFY_STATE | EVENT_QUERY_STATE;
export const SEMAPHORE_MODIFY_STATE = 0x0002;
/** SEMAPHORE_QUERY_STATE: NtQuerySemaphore needs it. */
export const SEMAPHORE_QUERY_STATE = 0x0001;
/** All the engine needs of a semaphore: wait, release (the pool's ReleaseSemaphore), query. */
export const SEMAPHORE_LEAST_ACCESS = SYNCHRONIZE | SEMAPHORE_MODIFY_STATE | SEMAPHORE_QUERY_STATE;
/** INVALID_HANDLE_VALUE, as koffi passes it: (HANDLE)-1. */
export const INVALID_HANDLE_VALUE: HANDLE = 0xffffffffffffffffn;

const kernel32 = koffi.load('kernel32.dll');

const fGetLastError = kernel32.func('__stdcall', 'GetLastError', cDWORD, []);
const fCloseHandle = kernel32.func('__stdcall', 'CloseHandle', cBOOL, [cHANDLE]);
const fCreateMutexExW = kernel32.func('__stdcall', 'CreateMutexExW', cHANDLE, [cPVOID, cLPCWSTR, cDWORD, cDWORD]);
const fOpenMutexW = kernel32.func('__stdcall', 'OpenMutexW', cHANDLE, [cDWORD, cBOOL, cLPCWSTR]);
const fCreateEventExW = kernel32.func('__stdcall', 'CreateEventExW', cHANDLE, [cPVOID, cLPCWSTR, cDWORD, cDWORD]);
const fResetEvent = kernel32.func('__stdcall', 'ResetEvent', cBOOL, [cHANDLE]);
const fSetEvent = kernel32.func('__stdcall', 'SetEvent', cBOOL, [cHANDLE]);
const fOpenEventW = kernel32.func('__stdcall', 'OpenEventW', cHANDLE, [cDWORD, cBOOL, cLPCWSTR]);
const fCreateSemaphoreExW = kernel32.func('__stdcall', 'CreateSemaphoreExW', cHANDLE, [cPVOID, cLONG, cLONG, cLPCWSTR, cDWORD, cDWORD]);
const fOpenSemaphoreW = kernel32.func('__stdcall', 'OpenSemaphoreW', cHANDLE, [cDWORD, cBOOL, cLPCWSTR]);
const fCreateIoCompletionPort = kernel32.func('__stdcall', 'CreateIoCompletionPort', cHANDLE, [cHANDLE, cHANDLE, cULONG_PTR, cDWORD]);
const fPostQueuedCompletionStatus = kernel32.func('__stdcall', 'PostQueuedCompletionStatus', cBOOL, [cHANDLE, cDWORD, cULONG_PTR, 'uintptr_t']);
const fGetQueuedCompletionStatusEx = kernel32.func('__stdcall', 'GetQueuedCompletionStatusEx', cBOOL,
  [cHANDLE, cPVOID, cULONG, koffi.out(koffi.pointer(cULONG)), cDWORD, cBOOL]);
const fQueryPerformanceCounter = kernel32.func('__stdcall', 'QueryPerformanceCounter', cBOOL, [koffi.out(koffi.pointer(cLONGLONG))]);
const fQueryPerformanceFrequency = kernel32.func('__stdcall', 'QueryPerformanceFrequency', cBOOL, [koffi.out(koffi.pointer(cLONGLONG))]);
const fCreateThreadpool = kernel32.func('__stdcall', 'CreateThreadpool', cPTP_POOL, [cPVOID]);
const fCloseThreadpool = kernel32.func('__stdcall', 'CloseThreadpool', cVOID, [cPTP_POOL]);
const fSetThreadpoolThreadMaximum = kernel32.func('__stdcall', 'SetThreadpoolThreadMaximum', cVOID, [cPTP_POOL, cDWORD]);
const fSetThreadpoolThreadMinimum = kernel32.func('__stdcall', 'SetThreadpoolThreadMinimum', cBOOL, [cPTP_POOL, cDWORD]);
const fCreateThreadpoolCleanupGroup = kernel32.func('__stdcall', 'CreateThreadpoolCleanupGroup', cPTP_CLEANUP_GROUP, []);
const fCloseThreadpoolCleanupGroupMembers = kernel32.func('__stdcall', 'CloseThreadpoolCleanupGroupMembers', cVOID, [cPTP_CLEANUP_GROUP, cBOOL, cPVOID]);
const fCloseThreadpoolCleanupGroup = kernel32.func('__stdcall', 'CloseThreadpoolCleanupGroup', cVOID, [cPTP_CLEANUP_GROUP]);
const fCreateThreadpoolWork = kernel32.func('__stdcall', 'CreateThreadpoolWork', cPTP_WORK, [cPVOID, cPVOID, cPTP_CALLBACK_ENVIRON]);
const fSubmitThreadpoolWork = kernel32.func('__stdcall', 'SubmitThreadpoolWork', cVOID, [cPTP_WORK]);
const fCreateThreadpoolWait = kernel32.func('__stdcall', 'CreateThreadpoolWait', cPTP_WAIT, [cPVOID, cPVOID, cPTP_CALLBACK_ENVIRON]);
const fSetThreadpoolWait = kernel32.func('__stdcall', 'SetThreadpoolWait', cVOID, [cPTP_WAIT, cHANDLE, cPVOID]);

function fail(fn: string): never {
  throw new Win32Error(fGetLastError() as number, fn);
}

function check(ok: number, fn: string): void {
  if (ok === 0) fail(fn);
}

function handle(value: HANDLE | null, fn: string): HANDLE {
  if (value === null || value === 0n) fail(fn);
  return value;
}

/** https://learn.microsoft.com/windows/win32/api/handleapi/nf-handleapi-closehandle */
export function CloseHandle(hObject: HANDLE): void {
  check(fCloseHandle(hObject), 'CloseHandle');
}

/**
 * https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-createmutexexw
 * Also returns whether the mutex existed: on success the function sets the last error
 * to ERROR_ALREADY_EXISTS (183) when it opened an existing mutex.
 */
export function CreateMutexExW(lpName: string | null, dwFlags: number, dwDesiredAccess: number): { handle: HANDLE; lastError: number } {
  const h = fCreateMutexExW(null, lpName, dwFlags, dwDesiredAccess) as HANDLE | null;
  const lastError = fGetLastError() as number;
  if (h === null || h === 0n) throw new Win32Error(lastError, 'CreateMutexExW');
  return { handle: h, lastError };
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-openmutexw */
export function OpenMutexW(dwDesiredAccess: number, bInheritHandle: boolean, lpName: string): HANDLE {
  return handle(fOpenMutexW(dwDesiredAccess, bInheritHandle ? 1 : 0, lpName) as HANDLE | null, 'OpenMutexW');
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-createeventexw */
export function CreateEventExW(lpName: string | null, dwFlags: number, dwDesiredAccess: number): HANDLE {
  return handle(fCreateEventExW(null, lpName, dwFlags, dwDesiredAccess) as HANDLE | null, 'CreateEventExW');
}

/** CreateEventExW for a named object, also saying whether it existed (ERROR_ALREADY_EXISTS, as CreateMutexExW). */
export function CreateNamedEventExW(lpName: string, dwFlags: number, dwDesiredAccess: number): { handle: HANDLE; lastError: number } {
  const h = fCreateEventExW(null, lpName, dwFlags, dwDesiredAccess) as HANDLE | null;
  const lastError = fGetLastError() as number;
  if (h === null || h === 0n) throw new Win32Error(lastError, 'CreateEventExW');
  return { handle: h, lastError };
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-openeventw */
export function OpenEventW(dwDesiredAccess: number, bInheritHandle: boolean, lpName: string): HANDLE {
  return handle(fOpenEventW(dwDesiredAccess, bInheritHandle ? 1 : 0, lpName) as HANDLE | null, 'OpenEventW');
}

/**
 * https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-createsemaphoreexw
 * An existing semaphore keeps its own counts (the arguments are ignored); the last
 * error is ERROR_ALREADY_EXISTS then.
 */
export function CreateSemaphoreExW(lpName: string, lInitialCount: number, lMaximumCount: number, dwDesiredAccess: number): { handle: HANDLE; lastError: number } {
  const h = fCreateSemaphoreExW(null, lInitialCount, lMaximumCount, lpName, 0, dwDesiredAccess) as HANDLE | null;
  const lastError = fGetLastError() as number;
  if (h === null || h === 0n) throw new Win32Error(lastError, 'CreateSemaphoreExW');
  return { handle: h, lastError };
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-opensemaphorew */
export function OpenSemaphoreW(dwDesiredAccess: number, bInheritHandle: boolean, lpName: string): HANDLE {
  return handle(fOpenSemaphoreW(dwDesiredAccess, bInheritHandle ? 1 : 0, lpName) as HANDLE | null, 'OpenSemaphoreW');
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-setevent */
export function SetEvent(hEvent: HANDLE): void {
  check(fSetEvent(hEvent), 'SetEvent');
}

/** https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-resetevent */
export function ResetEvent(hEvent: HANDLE): void {
  check(fResetEvent(hEvent), 'ResetEvent');
}

/** https://learn.microsoft.com/windows/win32/fileio/createiocompletionport */
export function CreateIoCompletionPort(FileHandle: HANDLE, ExistingCompletionPort: HANDLE | null, CompletionKey: bigint, NumberOfConcurrentThreads: number): HANDLE {
  return handle(fCreateIoCompletionPort(FileHandle, ExistingCompletionPort, CompletionKey, NumberOfConcurrentThreads) as HANDLE | null, 'CreateIoCompletionPort');
}

/** https://learn.microsoft.com/windows/win32/fileio/postqueuedcompletionstatus */
export function PostQueuedCompletionStatus(CompletionPort: HANDLE, dwNumberOfBytesTransferred: number, dwCompletionKey: bigint, lpOverlapped: bigint): void {
  check(fPostQueuedCompletionStatus(CompletionPort, dwNumberOfBytesTransferred, dwCompletionKey, lpOverlapped), 'PostQueuedCompletionStatus');
}

/**
 * https://learn.microsoft.com/windows/win32/fileio/getqueuedcompletionstatusex
 * Blocks the calling thread until a packet is queued (or dwMilliseconds elapse): call it
 * only on the drain's own thread (port-reader-thread.ts), never on the event loop or a
 * libuv pool thread. `entries` must be koffi-allocated memory for `count` entries.
 * Returns the number of entries removed; throws Win32Error when the call fails (port
 * closed, or WAIT_TIMEOUT when dwMilliseconds elapsed with nothing queued).
 */
export function GetQueuedCompletionStatusEx(CompletionPort: HANDLE, entries: PVOID, count: number, dwMilliseconds: number): number {
  const removed = [0];
  check(fGetQueuedCompletionStatusEx(CompletionPort, entries, count, removed, dwMilliseconds, 0), 'GetQueuedCompletionStatusEx');
  return removed[0] ?? 0;
}

/** https://learn.microsoft.com/windows/win32/api/profileapi/nf-profileapi-queryperformancecounter */
export function QueryPerformanceCounter(): bigint {
  const out = [0n];
  check(fQueryPerformanceCounter(out), 'QueryPerformanceCounter');
  return BigInt(out[0] ?? 0);
}

/** https://learn.microsoft.com/windows/win32/api/profileapi/nf-profileapi-queryperformancefrequency */
export function QueryPerformanceFrequency(): bigint {
  const out = [0n];
  check(fQueryPerformanceFrequency(out), 'QueryPerformanceFrequency');
  return BigInt(out[0] ?? 0);
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-createthreadpool */
export function CreateThreadpool(): HANDLE {
  return handle(fCreateThreadpool(null) as HANDLE | null, 'CreateThreadpool');
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-closethreadpool */
export function CloseThreadpool(ptpp: HANDLE): void {
  fCloseThreadpool(ptpp);
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-setthreadpoolthreadmaximum */
export function SetThreadpoolThreadMaximum(ptpp: HANDLE, cthrdMost: number): void {
  fSetThreadpoolThreadMaximum(ptpp, cthrdMost);
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-setthreadpoolthreadminimum */
export function SetThreadpoolThreadMinimum(ptpp: HANDLE, cthrdMic: number): void {
  check(fSetThreadpoolThreadMinimum(ptpp, cthrdMic), 'SetThreadpoolThreadMinimum');
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-createthreadpoolcleanupgroup */
export function CreateThreadpoolCleanupGroup(): HANDLE {
  return handle(fCreateThreadpoolCleanupGroup() as HANDLE | null, 'CreateThreadpoolCleanupGroup');
}

/**
 * https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-closethreadpoolcleanupgroupmembers
 * Waits for running callbacks, so asynchronous only (koffi `.async`, a libuv worker).
 */
export function CloseThreadpoolCleanupGroupMembers(ptpcg: HANDLE, fCancelPendingCallbacks: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    fCloseThreadpoolCleanupGroupMembers.async(ptpcg, fCancelPendingCallbacks ? 1 : 0, null, (err: unknown) => {
      if (err) reject(err); else resolve();
    });
  });
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-closethreadpoolcleanupgroup */
export function CloseThreadpoolCleanupGroup(ptpcg: HANDLE): void {
  fCloseThreadpoolCleanupGroup(ptpcg);
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-createthreadpoolwork */
export function CreateThreadpoolWork(pfnwk: PVOID, pv: PVOID, pcbe: PVOID): HANDLE {
  return handle(fCreateThreadpoolWork(pfnwk, pv, pcbe) as HANDLE | null, 'CreateThreadpoolWork');
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-submitthreadpoolwork */
export function SubmitThreadpoolWork(pwk: HANDLE): void {
  fSubmitThreadpoolWork(pwk);
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-createthreadpoolwait */
export function CreateThreadpoolWait(pfnwa: PVOID, pv: PVOID, pcbe: PVOID): HANDLE {
  return handle(fCreateThreadpoolWait(pfnwa, pv, pcbe) as HANDLE | null, 'CreateThreadpoolWait');
}

/** https://learn.microsoft.com/windows/win32/api/threadpoolapiset/nf-threadpoolapiset-setthreadpoolwait (no timeout: waits until h is signalled) */
export function SetThreadpoolWait(pwa: HANDLE, h: HANDLE | null): void {
  fSetThreadpoolWait(pwa, h, null);
}
