/**
 * ntdll bindings (koffi), same conventions as kernel32.ts. NT functions return an
 * NTSTATUS instead of setting the last error; a failure throws Win32Error with it.
 */
import koffi from 'koffi';
import { cHANDLE, cULONG, type HANDLE } from './kernel32.js';
import { Win32Error } from './win32-error.js';

export const cNTSTATUS = koffi.alias('NTSTATUS', 'int32_t');
export const cMUTANT_INFORMATION_CLASS = koffi.alias('MUTANT_INFORMATION_CLASS', 'int32_t');

/**
 * MUTANT_BASIC_INFORMATION: { LONG CurrentCount; BOOLEAN OwnedByCaller; BOOLEAN
 * AbandonedState; } padded to exactly 8 bytes; any other length gives
 * STATUS_INFO_LENGTH_MISMATCH (DESIGN §1.5).
 */
export const cMUTANT_BASIC_INFORMATION = koffi.struct('MUTANT_BASIC_INFORMATION', {
  CurrentCount: 'int32_t',
  OwnedByCaller: 'uint8_t',
  AbandonedState: 'uint8_t',
  Reserved: koffi.array('uint8_t', 2),
});

export const MutantBasicInformation = 0;

export interface MutantBasicInformationValue {
  /** 1 = free, 0 = owned once, -1 = owned twice... */
  readonly CurrentCount: number;
  readonly OwnedByCaller: boolean;
  readonly AbandonedState: boolean;
}

const ntdll = koffi.load('ntdll.dll');

const fNtQueryMutant = ntdll.func('__stdcall', 'NtQueryMutant', cNTSTATUS,
  [cHANDLE, cMUTANT_INFORMATION_CLASS, koffi.out(koffi.pointer(cMUTANT_BASIC_INFORMATION)), cULONG, koffi.out(koffi.pointer(cULONG))]);

/**
 * Undocumented in the Win32 docs; the kernel-mode twin is ZwQueryMutant:
 * https://learn.microsoft.com/windows-hardware/drivers/ddi/ (see also
 * http://undocumented.ntinternals.net/ — NtQueryMutant). Works on a handle with
 * MUTANT_QUERY_STATE access, whoever owns the mutex (also another process).
 */
export function NtQueryMutant(MutantHandle: HANDLE): MutantBasicInformationValue {
  const info: { CurrentCount?: number; OwnedByCaller?: number; AbandonedState?: number } = {}; // koffi fills it
  const status = fNtQueryMutant(MutantHandle, MutantBasicInformation, info, koffi.sizeof(cMUTANT_BASIC_INFORMATION), null) as number;
  if (status < 0) throw new Win32Error(status >>> 0, 'NtQueryMutant');
  return { CurrentCount: info.CurrentCount ?? 1, OwnedByCaller: info.OwnedByCaller === 1, AbandonedState: info.AbandonedState === 1 };
}
