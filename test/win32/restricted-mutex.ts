/**
 * Creates a named mutex with a security descriptor, the way another account or a
 * service would: the test entry point for ERROR_ACCESS_DENIED. Windows Node only.
 *
 * Verified under Wine 8: an empty DACL (`D:`) makes later opens that ask for
 * SYNCHRONIZE | MUTEX_MODIFY_STATE fail with ERROR_ACCESS_DENIED, from this process and
 * from another one. Wine still grants such a DACL's mutex MUTEX_ALL_ACCESS when the
 * DACL grants only the least access (Windows refuses that), so "least access opens
 * what all access could not" is shown on Windows only; under Wine the handle's granted
 * access is checked instead.
 */
import koffi from 'koffi';
import { cDWORD, cHANDLE, cLPCWSTR, cPVOID, type HANDLE } from '../../src/engine/win32/kernel32.js';
import { Win32Error } from '../../src/engine/win32/win32-error.js';

export { SDDL_LEAST_ACCESS, SDDL_NO_ACCESS } from './sddl.js';

const cSECURITY_ATTRIBUTES = koffi.struct('SECURITY_ATTRIBUTES_TEST', {
  nLength: cDWORD,
  lpSecurityDescriptor: cPVOID,
  bInheritHandle: 'int32_t',
});

const advapi32 = koffi.load('advapi32.dll');
const kernel32 = koffi.load('kernel32.dll');
const fConvert = advapi32.func('__stdcall', 'ConvertStringSecurityDescriptorToSecurityDescriptorW', 'int32_t',
  [cLPCWSTR, cDWORD, koffi.out(koffi.pointer(cPVOID)), cPVOID]);
const fCreateMutexExW = kernel32.func('__stdcall', 'CreateMutexExW', cHANDLE, [koffi.pointer(cSECURITY_ATTRIBUTES), cLPCWSTR, cDWORD, cDWORD]);
const fLocalFree = kernel32.func('__stdcall', 'LocalFree', cPVOID, [cPVOID]);
const fGetLastError = kernel32.func('__stdcall', 'GetLastError', cDWORD, []);

const SDDL_REVISION_1 = 1;
const MUTEX_ALL_ACCESS = 0x1f0001;

/** CreateMutexExW with the security descriptor `sddl`; the creator's handle has all access. */
export function createRestrictedMutex(name: string, sddl: string): HANDLE {
  const descriptor: (bigint | null)[] = [null];
  if (fConvert(sddl, SDDL_REVISION_1, descriptor, null) === 0) throw new Win32Error(fGetLastError() as number, 'ConvertStringSecurityDescriptorToSecurityDescriptorW');
  try {
    const handle = fCreateMutexExW({ nLength: koffi.sizeof(cSECURITY_ATTRIBUTES), lpSecurityDescriptor: descriptor[0], bInheritHandle: 0 }, name, 0, MUTEX_ALL_ACCESS) as HANDLE | null;
    if (handle === null || handle === 0n) throw new Win32Error(fGetLastError() as number, 'CreateMutexExW');
    return handle;
  } finally {
    fLocalFree(descriptor[0]);
  }
}
