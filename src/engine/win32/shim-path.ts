/**
 * Where the shim DLL may be. No koffi here: the list is testable on any platform.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHIM_FILE = 'tpmutex-shim.dll';

/**
 * Candidate paths, in order: the package's prebuilds folder (seen from dist/src/engine/
 * win32 after `npm run build`, and from src/engine/win32 when run from source), then
 * next to the Node executable (a packaged service or a container image may put it
 * there).
 */
export function shimCandidates(moduleUrl: string = import.meta.url, execPath: string = process.execPath): string[] {
  const here = dirname(fileURLToPath(moduleUrl));
  const fromDist = resolve(here, '..', '..', '..', '..');
  const fromSrc = resolve(here, '..', '..', '..');
  const candidates = [
    join(fromDist, 'prebuilds', 'win32-x64', SHIM_FILE),
    join(fromSrc, 'prebuilds', 'win32-x64', SHIM_FILE),
    join(dirname(execPath), SHIM_FILE),
  ];
  return [...new Set(candidates)];
}
