/**
 * Which C compiler builds the shim DLL, and with which command line: pure decisions,
 * so they are unit-tested on any platform (test/native/compiler.test.ts); build.ts does
 * the spawning.
 *
 * A compiler says what it targets with `-dumpmachine` (gcc and clang alike). That, not
 * its name, decides the flags: the same `clang.exe` is the MSVC-ABI LLVM release on a
 * GitHub runner and the MinGW one in llvm-mingw or MSYS2's clang64.
 */
import { basename } from 'node:path';

export type Family = 'gcc' | 'clang-mingw' | 'clang-msvc' | 'cl';

export interface Toolchain {
  readonly family: Family;
  /** `--target=...` when the compiler's default target is Windows on another CPU. */
  readonly target: string | undefined;
}

/** The sources compiled into tpmutex-shim.dll, relative to src/native. */
export const SOURCES = ['shim.c', 'console-ctrl.c'] as const;

/** The compilers tried in order when TPMUTEX_CC is not set. */
export function defaultCandidates(platform: NodeJS.Platform): string[] {
  return platform === 'win32'
    ? ['clang', 'cl', 'x86_64-w64-mingw32-gcc', 'gcc']
    : ['x86_64-w64-mingw32-gcc', 'x86_64-w64-mingw32-clang'];
}

/** `cl` (MSVC) has no -dumpmachine; every other compiler is asked. */
export function isMsvcCl(cc: string): boolean {
  return basename(cc).toLowerCase().replace(/\.exe$/, '') === 'cl';
}

/**
 * From the name of a gcc or clang and what its `-dumpmachine` printed: how to drive it,
 * or why it cannot build a Windows x64 DLL.
 */
export function toolchainOf(cc: string, dumpmachine: string): Toolchain | { unusable: string } {
  const triple = dumpmachine.trim().split(/\r?\n/)[0]?.trim().toLowerCase() ?? '';
  const clang = basename(cc).toLowerCase().includes('clang');
  if (triple === '') return { unusable: `${cc} -dumpmachine printed nothing` };
  const [arch = ''] = triple.split('-');
  const x64 = arch === 'x86_64' || arch === 'amd64';
  if (triple.includes('msvc')) {
    if (!clang) return { unusable: `${cc} targets ${triple}, which only clang or cl can build for` };
    return { family: 'clang-msvc', target: x64 ? undefined : '--target=x86_64-pc-windows-msvc' };
  }
  if (triple.includes('mingw') || triple.includes('windows-gnu')) {
    if (!x64 && !clang) return { unusable: `${cc} targets ${triple}, not x86_64 Windows` };
    return { family: clang ? 'clang-mingw' : 'gcc', target: x64 ? undefined : '--target=x86_64-w64-windows-gnu' };
  }
  if (triple.includes('cygwin') || triple.includes('msys')) {
    return { unusable: `${cc} targets ${triple} (the DLL would need the Cygwin/MSYS runtime); use MSYS2's ucrt64 or clang64 toolchain, llvm-mingw or LLVM` };
  }
  return { unusable: `${cc} targets ${triple}, not Windows; on Linux use x86_64-w64-mingw32-gcc (apt-get install gcc-mingw-w64-x86-64)` };
}

// Warnings are errors with the mingw headers (Linux, CI); the Windows SDK headers are
// not warning-clean at these levels, so with them warnings stay warnings.
const WARNINGS = ['-Wall', '-Wextra'];

/**
 * The command line that builds `sources` into `out`; `tmp` is a scratch folder for
 * intermediate files. Every family links kernel32 explicitly and leaves the build's
 * time out of the PE header, so the same sources give the same bytes.
 */
export function commandLine(cc: string, toolchain: Toolchain, sources: readonly string[], out: string, tmp: string): string[] {
  const target = toolchain.target === undefined ? [] : [toolchain.target];
  switch (toolchain.family) {
    case 'gcc':
      // -static-libgcc: the DLL must not need libgcc_s from the toolchain at run time.
      // GNU ld derives an "auto" image base from the output path, which is a scratch
      // folder here: the fixed default base keeps the bytes equal (the DLL stays
      // relocatable, ASLR still moves it).
      return [cc, '-O2', '-shared', ...WARNINGS, '-Werror', '-static-libgcc', '-Wl,--no-insert-timestamp', '-Wl,--disable-auto-image-base',
        '-o', out, ...sources, '-lkernel32'];
    case 'clang-mingw':
      return [cc, ...target, '-O2', '-shared', ...WARNINGS, '-Werror', '-Wl,--no-insert-timestamp', '-o', out, ...sources, '-lkernel32'];
    case 'clang-msvc':
      return [cc, ...target, '-O2', '-shared', ...WARNINGS, '-o', out, ...sources, '-lkernel32', '-Wl,/Brepro'];
    case 'cl':
      return [cc, '/nologo', '/O2', '/W3', '/LD', ...sources, `/Fo${tmp}\\`, `/Fe${out}`, '/link', 'kernel32.lib', '/Brepro'];
  }
}

/** What to tell someone without a working compiler, per platform. */
export function noCompilerHint(platform: NodeJS.Platform): string {
  return platform === 'win32'
    ? 'On Windows: `winget install LLVM.LLVM` (with the Visual Studio Build Tools), or llvm-mingw / MSYS2 ucrt64 clang on PATH; ' +
      'or take tpmutex-shim.dll from the npm package or a GitHub release into prebuilds\\win32-x64\\; or run with ENGINE=emulated'
    : 'On Debian/Ubuntu: apt-get install gcc-mingw-w64-x86-64';
}
