/**
 * The raw native baseline of the win32 variant: test/bench/native/loop.c drives the win32
 * engine's pool/mutex operations with the real shim DLL and no JavaScript, koffi or HTTP.
 * Built once into the git-ignored .cache/bench/ and run under the same Wine (WINEPREFIX,
 * wine64) as the service under benchmark — natively on Windows.
 *
 * Unlike node.exe, a mingw console program under Wine writes to a pipe without trouble
 * (verified with Wine 8: GetFileType(stdout) = FILE_TYPE_PIPE, output arrives with CRLF),
 * so its JSON line is read from stdout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { projectRoot, provision, windowsPath } from '../win32/wine-env.js';

const SOURCE = join(projectRoot, 'test', 'bench', 'native', 'loop.c');
const OUT_DIR = join(projectRoot, '.cache', 'bench');
const EXE = join(OUT_DIR, 'tpmutex-bench-loop.exe');
const SHIM_DLL = join(projectRoot, 'prebuilds', 'win32-x64', 'tpmutex-shim.dll');

/** As src/native/build.mjs: cross-compilers on Linux; on Windows also the native ones. */
const COMPILERS = process.platform === 'win32'
  ? ['x86_64-w64-mingw32-gcc', 'gcc', 'clang']
  : ['x86_64-w64-mingw32-gcc', 'x86_64-w64-mingw32-clang'];

/** Command line per compiler; mingw needs -municode for wmain, MSVC-target clang finds it itself. */
function compileArgs(cc: string, out: string): string[] {
  const name = basename(cc).toLowerCase().replace(/\.exe$/, '');
  // On Windows, plain clang targets the MSVC ABI, whose SDK headers are not warning-clean.
  if (name === 'clang') return ['-O2', '-Wall', '-Wextra', '--target=x86_64-pc-windows-msvc', '-o', out, SOURCE];
  return ['-O2', '-Wall', '-Wextra', '-Werror', ...(name.includes('clang') ? [] : ['-static-libgcc']), '-municode', '-o', out, SOURCE];
}

const mtime = (path: string): number => statSync(path).mtimeMs;

/** Builds .cache/bench/tpmutex-bench-loop.exe unless it is newer than loop.c; returns its path. */
export function buildNativeLoop(): string {
  if (existsSync(EXE) && mtime(EXE) >= mtime(SOURCE)) return EXE;
  const cc = COMPILERS.find((name) => spawnSync(name, ['--version'], { stdio: 'ignore' }).error === undefined);
  if (cc === undefined) {
    throw new Error(`cannot build the native bench loop: no compiler found (tried ${COMPILERS.join(', ')}); ` +
      'on Debian: apt-get install gcc-mingw-w64-x86-64');
  }
  mkdirSync(OUT_DIR, { recursive: true });
  // Built beside the target, then renamed: a concurrent run never starts a half-written exe.
  const tmp = join(OUT_DIR, `.tpmutex-bench-loop-${process.pid}.exe`);
  const result = spawnSync(cc, compileArgs(cc, tmp), { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`${cc} failed to build ${SOURCE} (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}${result.stderr}`);
  }
  renameSync(tmp, EXE);
  return EXE;
}

/**
 * Runs the loop with `args` (see loop.c: `throughput <works> <mutexes> <min> <max>` or
 * `handoff <works> <min> <max>`) and resolves with its JSON line; rejects with its
 * stderr when it fails.
 */
export async function runNativeLoop(args: readonly string[]): Promise<Record<string, number | string>> {
  const exe = buildNativeLoop();
  if (!existsSync(SHIM_DLL)) throw new Error(`${SHIM_DLL} is missing: build it with \`npm run build\``);
  // stderr: `npm run bench -- --json` keeps stdout for its own JSON.
  const node = provision((line) => console.error(`[wine] ${line}`));
  const dll = windowsPath(node, SHIM_DLL);
  const [command, argv] = node.mode === 'wine'
    ? [node.command, [windowsPath(node, exe), dll, ...args]]
    : [exe, [dll, ...args]];
  const child = spawn(command, argv, { cwd: projectRoot, env: { ...process.env, ...node.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const line = stdout.trim().split(/\r?\n/).pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) {
    throw new Error(`tpmutex-bench-loop ${args.join(' ')} failed (exit ${code}): ${stderr.trim() || stdout.trim() || 'no output'}`);
  }
  return JSON.parse(line) as Record<string, number | string>;
}
