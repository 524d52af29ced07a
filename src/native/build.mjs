#!/usr/bin/env node
/**
 * Builds the thread-pool shim (src/native/shim.c) into
 * prebuilds/win32-x64/tpmutex-shim.dll, the file the win32 engine loads.
 *
 * Compilers, first found wins:
 *   Linux/macOS: x86_64-w64-mingw32-gcc, x86_64-w64-mingw32-clang (cross-compile)
 *   Windows:     clang, cl (MSVC, from a Developer prompt), x86_64-w64-mingw32-gcc, gcc
 * Set TPMUTEX_CC to force one of those names (or a path to one of them).
 * Where none exists it says so and exits 0: the emulated engine needs no DLL.
 * A failing compiler is an error (exit 1): a broken shim must not pass silently.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const source = join(root, 'src', 'native', 'shim.c');
const outDir = join(root, 'prebuilds', 'win32-x64');
const output = join(outDir, 'tpmutex-shim.dll');

// Warnings are errors with the mingw headers (Linux, CI); the Windows SDK headers are
// not warning-clean at these levels, so there they stay warnings.
const warnings = ['-Wall', '-Wextra'];

/** Command line per compiler family; `out` is a temporary path renamed into place. */
const families = {
  // -static-libgcc: the DLL must not need libgcc_s from the toolchain at run time.
  gcc: (cc, out) => [cc, ['-O2', '-shared', ...warnings, '-Werror', '-static-libgcc', '-o', out, source]],
  // On Windows, clang targets the MSVC ABI and links with the Visual Studio linker.
  clang: (cc, out) => [cc, ['-O2', '-shared', ...warnings, '--target=x86_64-pc-windows-msvc', '-o', out, source]],
  mingwClang: (cc, out) => [cc, ['-O2', '-shared', ...warnings, '-Werror', '-o', out, source]],
  cl: (cc, out, tmp) => [cc, ['/nologo', '/O2', '/W3', '/LD', source, `/Fo${tmp}\\`, `/Fe${out}`, '/link', 'kernel32.lib']],
};

function familyOf(cc) {
  const name = basename(cc).toLowerCase().replace(/\.exe$/, '');
  if (name === 'cl') return 'cl';
  if (name.includes('mingw32-clang')) return 'mingwClang';
  if (name.includes('clang')) return 'clang';
  return 'gcc';
}

function exists(cc) {
  const probe = familyOf(cc) === 'cl' ? [] : ['--version'];
  const r = spawnSync(cc, probe, { stdio: 'ignore', shell: false });
  return r.error === undefined;
}

const candidates = process.env.TPMUTEX_CC
  ? [process.env.TPMUTEX_CC]
  : process.platform === 'win32'
    ? ['clang', 'cl', 'x86_64-w64-mingw32-gcc', 'gcc']
    : ['x86_64-w64-mingw32-gcc', 'x86_64-w64-mingw32-clang'];

const cc = candidates.find(exists);
if (cc === undefined) {
  console.log(`native shim: skipped, no compiler found (tried ${candidates.join(', ')}); ` +
    'the emulated engine needs no DLL. On Debian: apt-get install gcc-mingw-w64-x86-64');
  process.exit(0);
}

mkdirSync(outDir, { recursive: true });
// Build beside the output (same file system), then rename into place.
const tmp = mkdtempSync(join(outDir, '.build-'));
const tmpOut = join(tmp, 'tpmutex-shim.dll');
const [cmd, args] = families[familyOf(cc)](cc, tmpOut, tmp);
const result = spawnSync(cmd, args, { stdio: 'inherit' });
try {
  if (result.error !== undefined || result.status !== 0) {
    console.error(`native shim: ${cmd} failed (${result.error?.message ?? `exit ${result.status}`})`);
    process.exit(1);
  }
  // Rename into place so a process that has the old DLL loaded never sees a half file.
  rmSync(output, { force: true });
  renameSync(tmpOut, output);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`native shim: built ${output} with ${cc}`);
