#!/usr/bin/env node
/**
 * Builds the native part (src/native/shim.c and console-ctrl.c) into
 * prebuilds/win32-x64/tpmutex-shim.dll, the file the win32 engine loads. Run by
 * `npm run build` after tsc, as `node dist/src/native/build.js`.
 *
 * Compilers, first found wins (see compiler.ts):
 *   Linux/macOS: x86_64-w64-mingw32-gcc, x86_64-w64-mingw32-clang (cross-compile)
 *   Windows:     clang, cl (MSVC, from a Developer prompt), x86_64-w64-mingw32-gcc, gcc
 * TPMUTEX_CC forces one (a name or a path). The flags follow `-dumpmachine`.
 *
 * Exit status: a failure of the compiler TPMUTEX_CC names, or any failure when CI=true,
 * fails the build (a broken shim must not pass silently where it is wanted). An
 * auto-detected compiler that is missing or fails is a warning and exit 0: the emulated
 * engine needs no DLL, and the npm package ships a prebuilt one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLine, defaultCandidates, isMsvcCl, noCompilerHint, SOURCES, toolchainOf, type Toolchain } from './compiler.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const sources = SOURCES.map((file) => join(root, 'src', 'native', file));
const outDir = join(root, 'prebuilds', 'win32-x64');
const output = join(outDir, 'tpmutex-shim.dll');
/** Old DLLs renamed aside because a running process still had them loaded. */
const ASIDE_PREFIX = 'tpmutex-shim.dll.old-';

/** The toolchain of `cc`, or why it cannot be used (undefined: not installed). */
function probe(cc: string): Toolchain | { unusable: string } | undefined {
  if (isMsvcCl(cc)) {
    const r = spawnSync(cc, [], { stdio: 'ignore' });
    return r.error === undefined ? { family: 'cl', target: undefined } : undefined;
  }
  const r = spawnSync(cc, ['-dumpmachine'], { encoding: 'utf8' });
  if (r.error !== undefined) return undefined;
  if (r.status !== 0) return { unusable: `${cc} -dumpmachine exited with ${r.status}` };
  return toolchainOf(cc, r.stdout);
}

/**
 * Puts the new DLL in place. Windows refuses to delete a DLL that a running process has
 * loaded (EPERM/EBUSY) but lets it be renamed: move it aside, and remove the asides of
 * earlier builds whose processes have gone.
 */
function install(built: string): void {
  for (const name of readdirSync(outDir).filter((n) => n.startsWith(ASIDE_PREFIX))) {
    try { rmSync(join(outDir, name)); } catch { /* still loaded: left for a later build */ }
  }
  if (existsSync(output)) {
    try {
      rmSync(output, { force: true });
    } catch {
      renameSync(output, join(outDir, `${ASIDE_PREFIX}${Date.now().toString(36)}`));
    }
  }
  renameSync(built, output);
}

/** Builds with one compiler in a scratch folder beside the output; true on success. */
function buildWith(cc: string, toolchain: Toolchain): boolean {
  // Beside the output (same file system) so the final rename is atomic.
  const tmp = mkdtempSync(join(outDir, '.build-'));
  try {
    const [cmd, ...args] = commandLine(cc, toolchain, sources, join(tmp, 'tpmutex-shim.dll'), tmp);
    const result = spawnSync(cmd!, args, { stdio: 'inherit' });
    if (result.error !== undefined || result.status !== 0) {
      console.error(`native shim: ${cc} (${toolchain.family}) failed: ${result.error?.message ?? `exit ${result.status}`}`);
      return false;
    }
    install(join(tmp, 'tpmutex-shim.dll'));
    return true;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function main(): number {
  const forced = process.env['TPMUTEX_CC'];
  const strict = forced !== undefined || process.env['CI'] === 'true' || process.env['CI'] === '1';
  const candidates = forced !== undefined ? [forced] : defaultCandidates(process.platform);
  const problems: string[] = [];
  mkdirSync(outDir, { recursive: true });
  for (const cc of candidates) {
    const toolchain = probe(cc);
    if (toolchain === undefined) { problems.push(`${cc}: not found`); continue; }
    if ('unusable' in toolchain) { problems.push(toolchain.unusable); continue; }
    if (buildWith(cc, toolchain)) {
      console.log(`native shim: built ${output} with ${cc} (${toolchain.family})`);
      return 0;
    }
    problems.push(`${cc}: the build failed (output above)`);
    if (forced !== undefined) break;
  }
  const stale = existsSync(output) ? ` The existing ${output} (built ${statSync(output).mtime.toISOString()}) was left as it was.` : '';
  const message = `native shim: not built (${problems.join('; ')}). ${noCompilerHint(process.platform)}.${stale}`;
  if (strict) {
    console.error(`${message} Failing: ${forced !== undefined ? 'TPMUTEX_CC names this compiler' : 'CI is set'}.`);
    return 1;
  }
  console.warn(`warning: ${message} The emulated engine needs no DLL.`);
  return 0;
}

process.exitCode = main();
