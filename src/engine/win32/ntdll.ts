/**
 * ntdll bindings (koffi), same conventions as kernel32.ts. NT functions return an
 * NTSTATUS instead of setting the last error; a failure throws Win32Error with it.
 */
import koffi, { type TypeObject } from 'koffi';
import { cHANDLE, cULONG, type HANDLE } from './kernel32.js';
import { Win32Error } from './win32-error.js';

export const cNTSTATUS = koffi.alias('NTSTATUS', 'int32_t');
/** MUTANT_/SEMAPHORE_/EVENT_INFORMATION_CLASS: an enum, passed as a 32-bit int. */
const cINFORMATION_CLASS = koffi.alias('INFORMATION_CLASS', 'int32_t');
/** MutantBasicInformation, SemaphoreBasicInformation, EventBasicInformation: class 0 of each. */
const BASIC_INFORMATION = 0;

/**
 * MUTANT_BASIC_INFORMATION: { LONG CurrentCount; BOOLEAN OwnedByCaller; BOOLEAN
 * AbandonedState; } padded to exactly 8 bytes; any other length gives
 * STATUS_INFO_LENGTH_MISMATCH (docs/design.md §1.5).
 */
export const cMUTANT_BASIC_INFORMATION = koffi.struct('MUTANT_BASIC_INFORMATION', {
  CurrentCount: 'int32_t',
  OwnedByCaller: 'uint8_t',
  AbandonedState: 'uint8_t',
  Reserved: koffi.array('uint8_t', 2),
});

export interface MutantBasicInformationValue {
  /** 1 = free, 0 = owned once, -1 = owned twice... */
  readonly CurrentCount: number;
  readonly OwnedByCaller: boolean;
  readonly AbandonedState: boolean;
}

const ntdll = koffi.load('ntdll.dll');

/**
 * What NtQueryMutant, NtQuerySemaphore and NtQueryEvent share: `name`(handle, class 0
 * (*BasicInformation), out `type`, its size, NULL), bound once. The query returns the
 * struct as koffi decodes it into a fresh object (a field it did not fill stays
 * undefined); a negative NTSTATUS throws Win32Error.
 */
function basicInformationQuery<T extends object>(name: string, type: TypeObject): (handle: HANDLE) => Partial<T> {
  const query = ntdll.func('__stdcall', name, cNTSTATUS, [cHANDLE, cINFORMATION_CLASS, koffi.out(koffi.pointer(type)), cULONG, koffi.out(koffi.pointer(cULONG))]);
  const size = koffi.sizeof(type);
  return (handle) => {
    const info: Partial<T> = {}; // koffi fills it
    const status = query(handle, BASIC_INFORMATION, info, size, null) as number;
    if (status < 0) throw new Win32Error(status >>> 0, name);
    return info;
  };
}

const queryMutant = basicInformationQuery<{ CurrentCount: number; OwnedByCaller: number; AbandonedState: number }>(
  'NtQueryMutant', cMUTANT_BASIC_INFORMATION);

/**
 * Undocumented in the Win32 docs; the kernel-mode twin is ZwQueryMutant:
 * https://learn.microsoft.com/windows-hardware/drivers/ddi/ (see also
 * http://undocumented.ntinternals.net/ — NtQueryMutant). Works on a handle with
 * MUTANT_QUERY_STATE access, whoever owns the mutex (also another process).
 */
export function NtQueryMutant(MutantHandle: HANDLE): MutantBasicInformationValue {
  const info = queryMutant(MutantHandle);
  return { CurrentCount: info.CurrentCount ?? 1, OwnedByCaller: info.OwnedByCaller === 1, AbandonedState: info.AbandonedState === 1 };
}

/** SEMAPHORE_BASIC_INFORMATION: { LONG CurrentCount; LONG MaximumCount; } (class 0). */
export const cSEMAPHORE_BASIC_INFORMATION = koffi.struct('SEMAPHORE_BASIC_INFORMATION', {
  CurrentCount: 'int32_t',
  MaximumCount: 'int32_t',
});

export interface SemaphoreBasicInformationValue {
  readonly CurrentCount: number;
  readonly MaximumCount: number;
}

const querySemaphore = basicInformationQuery<SemaphoreBasicInformationValue>('NtQuerySemaphore', cSEMAPHORE_BASIC_INFORMATION);

/**
 * NtQuerySemaphore(SemaphoreBasicInformation): the live count and the object's own
 * maximum (undocumented like NtQueryMutant; Wine dlls/ntdll/unix/sync.c implements
 * it). Needs SEMAPHORE_QUERY_STATE on the handle.
 */
export function NtQuerySemaphore(SemaphoreHandle: HANDLE): SemaphoreBasicInformationValue {
  const info = querySemaphore(SemaphoreHandle);
  return { CurrentCount: info.CurrentCount ?? 0, MaximumCount: info.MaximumCount ?? 0 };
}

/**
 * EVENT_BASIC_INFORMATION: { EVENT_TYPE EventType; LONG EventState; } (class 0).
 * EventType 0 = NotificationEvent (manual reset), 1 = SynchronizationEvent (auto reset).
 */
export const cEVENT_BASIC_INFORMATION = koffi.struct('EVENT_BASIC_INFORMATION', {
  EventType: 'int32_t',
  EventState: 'int32_t',
});

export interface EventBasicInformationValue {
  /** 0 NotificationEvent (manual reset), 1 SynchronizationEvent (auto reset). */
  readonly EventType: number;
  /** Nonzero: signalled. */
  readonly EventState: number;
}

const queryEvent = basicInformationQuery<EventBasicInformationValue>('NtQueryEvent', cEVENT_BASIC_INFORMATION);

/** NtQueryEvent(EventBasicInformation): the event's type and state. Needs EVENT_QUERY_STATE. */
export function NtQueryEvent(EventHandle: HANDLE): EventBasicInformationValue {
  const info = queryEvent(EventHandle);
  return { EventType: info.EventType ?? 0, EventState: info.EventState ?? 0 };
}

export const cOBJECT_INFORMATION_CLASS = koffi.alias('OBJECT_INFORMATION_CLASS', 'int32_t');
export const ObjectBasicInformation = 0;
export const ObjectNameInformation = 1;

/** PUBLIC_OBJECT_BASIC_INFORMATION (winternl.h): 56 bytes. */
export const cPUBLIC_OBJECT_BASIC_INFORMATION = koffi.struct('PUBLIC_OBJECT_BASIC_INFORMATION', {
  Attributes: 'uint32_t',
  GrantedAccess: 'uint32_t',
  HandleCount: 'uint32_t',
  PointerCount: 'uint32_t',
  Reserved: koffi.array('uint32_t', 10),
});

/** OBJECT_NAME_INFORMATION is one UNICODE_STRING { USHORT Length; USHORT MaximumLength; PWSTR Buffer; }: 16 bytes on x64, the characters follow. */
const UNICODE_STRING_BYTES = 16;
const STATUS_BUFFER_OVERFLOW = 0x80000005;
const STATUS_INFO_LENGTH_MISMATCH = 0xc0000004;
const STATUS_BUFFER_TOO_SMALL = 0xc0000023;
/** UNICODE_STRING.Length is a USHORT count of bytes. */
const MAX_NAME_INFORMATION_BYTES = UNICODE_STRING_BYTES + 0xffff;

const fNtQueryObject = ntdll.func('__stdcall', 'NtQueryObject', cNTSTATUS,
  [cHANDLE, cOBJECT_INFORMATION_CLASS, 'void *', cULONG, koffi.out(koffi.pointer(cULONG))]);

/**
 * https://learn.microsoft.com/windows/win32/api/winternl/nf-winternl-ntqueryobject
 * ObjectBasicInformation: the access this handle was granted (what the open really got).
 */
export function NtQueryObjectGrantedAccess(Handle: HANDLE): number {
  const info = Buffer.alloc(koffi.sizeof(cPUBLIC_OBJECT_BASIC_INFORMATION));
  const status = fNtQueryObject(Handle, ObjectBasicInformation, info, info.length, null) as number;
  if (status < 0) throw new Win32Error(status >>> 0, 'NtQueryObject');
  return info.readUInt32LE(4);
}

/**
 * https://learn.microsoft.com/windows/win32/api/winternl/nf-winternl-ntqueryobject
 * ObjectNameInformation: the object's full name in the object manager, e.g.
 * `\Sessions\1\BaseNamedObjects\Deploy` for `Local\Deploy` in session 1. Needs no
 * particular access right on the handle.
 */
export function NtQueryObjectName(Handle: HANDLE): string {
  let size = UNICODE_STRING_BYTES + 2 * 512;
  for (;;) {
    const info = Buffer.alloc(size);
    const needed = [0];
    const status = (fNtQueryObject(Handle, ObjectNameInformation, info, info.length, needed) as number) >>> 0;
    const tooSmall = status === STATUS_INFO_LENGTH_MISMATCH || status === STATUS_BUFFER_OVERFLOW || status === STATUS_BUFFER_TOO_SMALL;
    if (tooSmall && size < MAX_NAME_INFORMATION_BYTES) {
      size = Math.min(MAX_NAME_INFORMATION_BYTES, Math.max(size * 2, needed[0] ?? 0));
      continue;
    }
    if (status >= 0x80000000) throw new Win32Error(status, 'NtQueryObject');
    const length = info.readUInt16LE(0);
    // The kernel writes the characters right after the UNICODE_STRING it points to them from.
    return info.toString('utf16le', UNICODE_STRING_BYTES, UNICODE_STRING_BYTES + length);
  }
}
