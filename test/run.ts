/**
 * `npm test`: every test file under dist/test, through node's own test runner.
 * Written as a script (not a shell glob) because Node 20's `--test` takes no globs and
 * Node 22's does; this runs the same on both and on Windows.
 *
 *   node dist/test/run.js                 all suites
 *   node dist/test/run.js engine http     only files whose path contains one of these
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inMainRun, runWin32Suites } from './win32/hook.js'; // Windows suites: see test/win32/hook.ts

const testRoot = dirname(fileURLToPath(import.meta.url));

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.js')) found.push(path);
  }
  return found;
}

const filters = process.argv.slice(2);
const files = findTests(testRoot).filter((file) => {
  const rel = relative(testRoot, file);
  return filters.length === 0 || filters.some((f) => rel.includes(f));
}).filter(inMainRun);
if (files.length === 0 && !filters.some((f) => f.includes('win32'))) {
  console.error(`no test files matched ${filters.join(' ') || '(all)'} under ${testRoot}`);
  process.exit(1);
}
/**
 * A test that hangs fails after this long instead of hanging the run. The slowest tests
 * (load, overflow) wait up to three minutes for their events on a loaded machine.
 */
const TEST_TIMEOUT_MS = 5 * 60_000;
const result = files.length === 0
  ? { status: 0 }
  : spawnSync(process.execPath, ['--enable-source-maps', '--test', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], { stdio: 'inherit' });
const win32Status = runWin32Suites(filters);
process.exit((result.status ?? 1) || win32Status);
