/**
 * A failed Win32 (or NT) call: the code captured right after the call and the name of
 * the function. Thrown by the bindings; the engine maps it to an EngineError.
 * No koffi here, so this module can be imported anywhere.
 */
export class Win32Error extends Error {
  override readonly name = 'Win32Error';

  constructor(
    /** GetLastError() right after the failing call, or an NTSTATUS for Nt* functions. */
    readonly code: number,
    /** The Win32 function that failed, spelled as in its documentation. */
    readonly fn: string,
  ) {
    super(`${fn} failed with ${code > 0xffff ? `NTSTATUS 0x${(code >>> 0).toString(16).padStart(8, '0')}` : `error ${code}`}`);
  }
}

/** The Win32 error codes the engine looks at (winerror.h). */
export const ERROR_FILE_NOT_FOUND = 2;
export const ERROR_PATH_NOT_FOUND = 3;
export const ERROR_ACCESS_DENIED = 5;
export const ERROR_INVALID_HANDLE = 6;
export const ERROR_INVALID_NAME = 123;
export const ERROR_BAD_PATHNAME = 161;
export const ERROR_ALREADY_EXISTS = 183;
export const ERROR_FILENAME_EXCED_RANGE = 206;
