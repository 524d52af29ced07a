/**
 * Stable error codes shared by every engine: the same input gives the same code
 * whichever engine runs. The HTTP layer maps codes to problem+json (the table: src/schemas/engine-problems.ts).
 */
export type EngineErrorCode =
  /** The engine cannot run here (wrong platform, native parts missing). */
  | 'engine_unavailable'
  /** The name is used by another kind of object (Win32: ERROR_INVALID_HANDLE). */
  | 'name_conflict'
  /** The OS rejects the name. */
  | 'name_invalid'
  /**
   * The mutex exists and refuses the access the engine asks for (Win32:
   * ERROR_ACCESS_DENIED): it was created by another account or a service with a
   * security descriptor that does not grant SYNCHRONIZE | MUTEX_MODIFY_STATE to us.
   */
  | 'access_denied'
  /**
   * Creating a `Global\` object needs SeCreateGlobalPrivilege outside session 0, and
   * this process does not have it (the name does not exist yet, so it had to be created).
   */
  | 'privilege_required'
  /** No handle for that name is open in this engine. */
  | 'mutex_not_open'
  /** closeMutex while a work on the mutex has not ended. */
  | 'mutex_in_use'
  /** No semaphore or event of that name is open in this engine. */
  | 'object_not_open'
  /** closeSemaphore/closeEvent while a work on it has not ended. */
  | 'object_in_use'
  /** Checked mode refused a step that would raise an exception on real Windows. */
  | 'rule_violation'
  /** The work id is unknown to the engine. */
  | 'work_unknown'
  /** minThreads/maxThreads rejected. */
  | 'pool_limits_invalid'
  /** The engine is closing and accepts nothing new. */
  | 'shutting_down'
  /** The callback's thread died (the mutex, if owned, is left abandoned). */
  | 'thread_died'
  /** Any other OS failure; `osCode` and `fn` say which. */
  | 'os_error';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  readonly code: EngineErrorCode;
  /** The platform's error code (Win32 GetLastError / NTSTATUS), when there is one. */
  readonly osCode: number | undefined;
  /** The platform function that failed, when there is one. */
  readonly fn: string | undefined;

  constructor(code: EngineErrorCode, message: string, details: { osCode?: number; fn?: string; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.osCode = details.osCode;
    this.fn = details.fn;
  }

  toJSON(): { code: EngineErrorCode; message: string; osCode?: number; fn?: string } {
    return {
      code: this.code,
      message: this.message,
      ...(this.osCode === undefined ? {} : { osCode: this.osCode }),
      ...(this.fn === undefined ? {} : { fn: this.fn }),
    };
  }
}

export function isEngineError(err: unknown): err is EngineError {
  return err instanceof EngineError;
}
