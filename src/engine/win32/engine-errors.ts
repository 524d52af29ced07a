/**
 * Win32 failures as stable engine errors (the codes both engines share). No koffi
 * here: the one decision that needs the OS (does the object exist?) is asked through a
 * callback, so the mapping runs, and is tested, on any platform.
 */
import { EngineError } from '../errors.js';
import {
  ERROR_ACCESS_DENIED, ERROR_BAD_PATHNAME, ERROR_FILENAME_EXCED_RANGE, ERROR_INVALID_HANDLE,
  ERROR_INVALID_NAME, ERROR_PATH_NOT_FOUND, Win32Error,
} from './win32-error.js';

/** Whether a mutex of that name exists now, as far as this process can tell. */
export type Existence = 'exists' | 'missing' | 'unknown';

/**
 * ERROR_ACCESS_DENIED has two causes that need different fixes:
 * - the mutex exists and its security descriptor refuses SYNCHRONIZE |
 *   MUTEX_MODIFY_STATE to this account (another account's or a service's mutex);
 * - the name is `Global\…`, nobody has created it yet, and creating an object in the
 *   global namespace needs SeCreateGlobalPrivilege, which a process outside session 0
 *   has only when elevated.
 * Only the second happens for a missing object, so `exists` decides (it is asked only
 * for a denied `Global\` name).
 */
export function mutexOpenError(err: unknown, name: string, exists: () => Existence, kind: 'mutex' | 'semaphore' | 'event' = 'mutex'): EngineError {
  if (!(err instanceof Win32Error)) return toEngineError(err);
  const access = kind === 'mutex' ? 'SYNCHRONIZE | MUTEX_MODIFY_STATE'
    : kind === 'semaphore' ? 'SYNCHRONIZE | SEMAPHORE_MODIFY_STATE | SEMAPHORE_QUERY_STATE' : 'SYNCHRONIZE | EVENT_MODIFY_STATE | EVENT_QUERY_STATE';
  const details = { osCode: err.code, fn: err.fn, cause: err };
  if (err.code === ERROR_INVALID_HANDLE) {
    return new EngineError('name_conflict', `${name} is the name of another kind of object than a ${kind} (mutex, event, semaphore, section...)`, details);
  }
  if ([ERROR_PATH_NOT_FOUND, ERROR_INVALID_NAME, ERROR_BAD_PATHNAME, ERROR_FILENAME_EXCED_RANGE].includes(err.code)) {
    return new EngineError('name_invalid', `the OS rejects the ${kind} name ${name} (${err.message})`, details);
  }
  if (err.code === ERROR_ACCESS_DENIED) {
    if (name.startsWith('Global\\') && exists() === 'missing') {
      return new EngineError('privilege_required',
        `creating ${name} needs SeCreateGlobalPrivilege, which this process does not have (services in session 0 and elevated processes have it); ` +
        `create the ${kind} from such a process first, or use a Local\\ name`, details);
    }
    return new EngineError('access_denied',
      `${kind} ${name} exists and denies this process ${access} access (created by another account or a service with a restrictive security descriptor)`, details);
  }
  return toEngineError(err);
}

/** Win32Error → EngineError('os_error') with the code and the function; anything else → os_error. */
export function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  if (err instanceof Win32Error) return new EngineError('os_error', err.message, { osCode: err.code, fn: err.fn, cause: err });
  return new EngineError('os_error', String((err as Error)?.message ?? err), { cause: err });
}
