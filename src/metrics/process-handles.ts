/**
 * The open OS handles of this process, for the `tpmutex_process_handles` gauge: on
 * Windows the kernel handle count (mutexes, events, thread-pool objects, files,
 * threads…), which is where a leaking service shows first; on Linux the open file
 * descriptors. Elsewhere there is no cheap count, and the gauge is not registered.
 *
 * On Windows koffi is loaded here on its own, for two functions, rather than through
 * the engine, so that the metric exists whichever engine runs and whatever shape the
 * engine's bindings take.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

export type HandleCounter = () => number;

let windowsCounter: HandleCounter | undefined;

/** A counter for this platform, or undefined where there is none. */
export function processHandleCounter(platform: NodeJS.Platform = process.platform): HandleCounter | undefined {
  // One set of bindings per process, however many apps (tests) ask.
  if (platform === 'win32') return (windowsCounter ??= windowsHandleCounter());
  if (platform === 'linux') return linuxFdCounter;
  return undefined;
}

/** Entries of /proc/self/fd, less the one readdir itself holds open while it lists them. */
function linuxFdCounter(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

const STATUS_INFO_LENGTH_MISMATCH = 0xc0000004 | 0;
const SystemExtendedHandleInformation = 64;
/** SYSTEM_HANDLE_INFORMATION_EX: NumberOfHandles (8) + Reserved (8), then 40-byte entries whose UniqueProcessId is at +8. */
const TABLE_HEADER_BYTES = 16, ENTRY_BYTES = 40, ENTRY_PID_OFFSET = 8;

function windowsHandleCounter(): HandleCounter {
  // koffi is CommonJS: a synchronous require keeps it off every other platform's import graph.
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const kernel32 = koffi.load('kernel32.dll');
  // https://learn.microsoft.com/windows/win32/api/processthreadsapi/nf-processthreadsapi-getcurrentprocess
  const GetCurrentProcess = kernel32.func('void * __stdcall GetCurrentProcess()') as () => bigint;
  // https://learn.microsoft.com/windows/win32/api/processthreadsapi/nf-processthreadsapi-getcurrentprocessid
  const GetCurrentProcessId = kernel32.func('uint32_t __stdcall GetCurrentProcessId()') as () => number;
  // https://learn.microsoft.com/windows/win32/api/processthreadsapi/nf-processthreadsapi-getprocesshandlecount
  const GetProcessHandleCount = kernel32.func('int32_t __stdcall GetProcessHandleCount(void *hProcess, _Out_ uint32_t *pdwHandleCount)') as (process: bigint, count: [number]) => number;
  const GetLastError = kernel32.func('uint32_t __stdcall GetLastError()') as () => number;
  const self = GetCurrentProcess();

  const handleCount = (): number => {
    const count: [number] = [0];
    if (GetProcessHandleCount(self, count) === 0) throw new Error(`GetProcessHandleCount failed with error ${GetLastError()}`);
    return count[0];
  };
  // A live process always holds handles (its threads, its image, the console), so a
  // count of 0 is Wine's GetProcessHandleCount, which succeeds without counting
  // (measured on Wine 8). wineserver does keep the system handle table, so there this
  // process's handles are counted in it instead (checked: 50 more mutexes, 50 more).
  if (handleCount() > 0) return handleCount;

  // https://learn.microsoft.com/windows/win32/api/winternl/nf-winternl-ntquerysysteminformation
  const ntdll = koffi.load('ntdll.dll');
  const NtQuerySystemInformation = ntdll.func('int32_t __stdcall NtQuerySystemInformation(int32_t SystemInformationClass, void *SystemInformation, uint32_t SystemInformationLength, _Out_ uint32_t *ReturnLength)') as
    (cls: number, buffer: Buffer, length: number, returned: [number]) => number;
  const pid = BigInt(GetCurrentProcessId());
  let buffer = Buffer.alloc(64 * 1024);
  return () => {
    for (;;) {
      const returned: [number] = [0];
      const status = NtQuerySystemInformation(SystemExtendedHandleInformation, buffer, buffer.length, returned);
      if (status === STATUS_INFO_LENGTH_MISMATCH) { buffer = Buffer.alloc(Math.max(buffer.length * 2, returned[0] + 4096)); continue; }
      if (status !== 0) throw new Error(`NtQuerySystemInformation(SystemExtendedHandleInformation) failed with NTSTATUS 0x${(status >>> 0).toString(16)}`);
      const entries = Number(buffer.readBigUInt64LE(0));
      let mine = 0;
      for (let i = 0, at = TABLE_HEADER_BYTES + ENTRY_PID_OFFSET; i < entries; i++, at += ENTRY_BYTES) if (buffer.readBigUInt64LE(at) === pid) mine++;
      return mine;
    }
  };
}
