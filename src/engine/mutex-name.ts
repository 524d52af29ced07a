/**
 * The Win32 rules for an object name (mutex, semaphore, event: one namespace, one set of
 * rules), checked by every engine before anything else, so the emulated engine rejects
 * what CreateMutexExW / CreateSemaphoreExW / CreateEventExW would and both engines answer
 * the same name with the same error code. Names reach the engine already normalised to
 * `Global\x` or `Local\x`; a bare name is accepted too and means `Local\x`, as in Win32.
 */
import { EngineError } from './errors.js';

/** MAX_PATH: the longest object name Windows accepts. */
const MAX_NAME_LENGTH = 260;

// The OS takes a NUL-terminated string: "a\0b" would silently open the mutex "a".
const NUL = '\u0000';

/** Which kind of object a name is for, only to word the error. */
export type NamedObjectKind = 'mutex' | 'semaphore' | 'event';

export function checkMutexName(name: string, kind: NamedObjectKind = 'mutex'): void {
  const rest = name.startsWith('Global\\') ? name.slice('Global\\'.length)
    : name.startsWith('Local\\') ? name.slice('Local\\'.length)
      : name;
  if (rest.length === 0) throw new EngineError('name_invalid', `${kind} name "${name}" is empty after its namespace prefix`);
  if (rest.includes('\\')) throw new EngineError('name_invalid', `${kind} name "${name}" has a backslash besides the Global\\ or Local\\ prefix`);
  if (name.includes(NUL)) throw new EngineError('name_invalid', `${kind} name contains NUL, which would end the name the OS sees`);
  if (name.length > MAX_NAME_LENGTH) throw new EngineError('name_invalid', `${kind} name is ${name.length} characters; at most ${MAX_NAME_LENGTH} are allowed`);
}

/**
 * The object-manager path Windows gives a named object created by a process in `session`
 * (what NtQueryObject(ObjectNameInformation) reports): `Global\x` lives in
 * `\BaseNamedObjects`, `Local\x` and a bare `x` in the session's own directory, and in
 * session 0 (services) the session directory *is* `\BaseNamedObjects`, so there
 * `Local\x` and `Global\x` are one object. The name must have passed checkMutexName.
 */
export function sessionKernelName(name: string, session: number): string {
  if (name.startsWith('Global\\')) return `\\BaseNamedObjects\\${name.slice('Global\\'.length)}`;
  const rest = name.startsWith('Local\\') ? name.slice('Local\\'.length) : name;
  return session === 0 ? `\\BaseNamedObjects\\${rest}` : `\\Sessions\\${session}\\BaseNamedObjects\\${rest}`;
}
