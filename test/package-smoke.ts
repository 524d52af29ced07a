/**
 * A plain-Node install of the npm package, as a user gets it: `npm install <tarball>`
 * into an empty folder (no build step, no compiler), then the service started from the
 * installed package must answer on the expected engine, the installed `tpmutex` binary
 * must read its status, and the service must drain on request (the IPC
 * message, which works on every platform) and exit 0. On Windows the win32 engine runs
 * with the DLL the package ships.
 *
 *   npm pack && node dist/test/package-smoke.js tpmutex-<version>.tgz win32|emulated
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { SHUTDOWN_MESSAGE } from '../src/shutdown/requests.js';
import { freePort, until } from './helpers/wait.js';

const [tarball, expected] = process.argv.slice(2);
if (tarball === undefined || (expected !== 'win32' && expected !== 'emulated')) {
  console.error('usage: package-smoke.js <tpmutex-x.y.z.tgz> win32|emulated');
  process.exit(2);
}

const say = (line: string): void => console.log(`[package] ${line}`);
const dir = mkdtempSync(join(tmpdir(), 'tpmutex-install-'));
try {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tpmutex-smoke', private: true }));
  say(`npm install ${tarball} in ${dir}`);
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', `"${resolve(tarball)}"`], { cwd: dir, stdio: 'inherit', shell: true });
  if (install.status !== 0) throw new Error(`npm install exited with ${install.status}`);
  const pkg = join(dir, 'node_modules', 'tpmutex');
  const dll = join(pkg, 'prebuilds', 'win32-x64', 'tpmutex-shim.dll');
  if (!existsSync(dll)) throw new Error(`the package has no ${dll}`);
  say(`the package ships ${dll}`);

  const port = await freePort();
  const child = spawn(process.execPath, [join(pkg, 'dist', 'src', 'server.js')], {
    cwd: dir, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ENGINE: 'auto' },
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const base = `http://127.0.0.1:${port}`;
  try {
    await until('/readyz', async () => {
      const res = await fetch(`${base}/readyz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    }, 60_000, 200);
    const info = await (await fetch(`${base}/v1/info`)).json() as { engine: { kind: string; details: Record<string, unknown> } };
    if (info.engine.kind !== expected) throw new Error(`engine ${info.engine.kind}, expected ${expected}`);
    const shim = info.engine.details['shim'];
    if (expected === 'win32' && (typeof shim !== 'string' || !resolve(shim).startsWith(`${resolve(pkg)}${sep}`))) {
      throw new Error(`the win32 engine loaded ${String(shim)}, not the package's DLL`);
    }
    say(`engine ${info.engine.kind}${typeof shim === 'string' ? ` with ${shim}` : ''}`);
    const bin = join(dir, 'node_modules', '.bin', process.platform === 'win32' ? 'tpmutex.cmd' : 'tpmutex');
    const status = spawnSync(`"${bin}"`, ['status', '--url', base], { cwd: dir, encoding: 'utf8', shell: true });
    if (status.status !== 0) throw new Error(`tpmutex status exited with ${status.status}: ${status.stderr}`);
    say(`the installed tpmutex binary answers: ${status.stdout.split('\n')[0]}`);
    child.send(SHUTDOWN_MESSAGE);
    const code = await exited;
    if (code !== 0) throw new Error(`exited with ${code} after the drain request`);
    say('drained on request and exited 0');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
} finally {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}
