/**
 * The Win32 rules for a mutex name, so the emulated engine rejects what CreateMutexW
 * would (same input, same error code on both engines). Names reach the engine already
 * normalised to `Global\x` or `Local\x`; a bare name is accepted too.
 */
import { EngineError } from '../errors.js';

/** MAX_PATH: the longest object name Windows accepts. */
const MAX_NAME_LENGTH = 260;

export function checkMutexName(name: string): void {
  const rest = name.startsWith('Global\\') ? name.slice('Global\\'.length)
    : name.startsWith('Local\\') ? name.slice('Local\\'.length)
      : name;
  if (rest.length === 0) throw new EngineError('name_invalid', `mutex name "${name}" is empty after its namespace prefix`);
  if (rest.includes('\\')) throw new EngineError('name_invalid', `mutex name "${name}" has a backslash besides the Global\\ or Local\\ prefix`);
  if (name.length > MAX_NAME_LENGTH) throw new EngineError('name_invalid', `mutex name is ${name.length} characters; at most ${MAX_NAME_LENGTH} are allowed`);
}
