/**
 * How `npm test` (test/run.ts) runs the Windows suites, kept here so the shared runner
 * only calls two functions.
 *
 * - Windows: the engine conformance suite (its factories include win32) and the
 *   cross-process suite run natively in the main run; afterwards the HTTP suite runs
 *   once more against a service on the win32 engine (wine.js test e2e, native mode).
 * - Linux with wine64 and x86_64-w64-mingw32-gcc: the main run leaves test/win32 out and
 *   the harness runs everything under Wine (wine.js test).
 * - Anywhere else: reported as skipped with the reason; with CI=true a skip fails.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipIsFailure, unavailableReason } from './wine-env.js';

const here = dirname(fileURLToPath(import.meta.url));
const testRoot = dirname(here);

/** Whether the main (Linux or Windows Node) run includes this test file. */
export function inMainRun(file: string): boolean {
  if (process.platform === 'win32') return true;
  return !relative(testRoot, file).startsWith(`win32${sep}`);
}

/** Runs the Windows suites if the filters ask for them; returns an exit status. */
export function runWin32Suites(filters: readonly string[]): number {
  if (filters.length > 0 && !filters.some((f) => f.includes('win32') || f === 'wine')) return 0;
  const reason = unavailableReason();
  if (reason !== undefined) {
    const ci = skipIsFailure();
    console.log(`[win32] Windows suites SKIPPED: ${reason}${ci ? ' — CI=true, so this is a failure' : ''}`);
    return ci ? 1 : 0;
  }
  const args = process.platform === 'win32' ? ['test', 'e2e'] : ['test'];
  console.log(`[win32] running the Windows suites: node dist/test/win32/wine.js ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [join(here, 'wine.js'), ...args], { stdio: 'inherit' });
  return result.status ?? 1;
}
