/**
 * The Windows harness: the real engine on Windows Node, under Wine on Linux (or natively
 * on Windows). `npm run build` first (the npm scripts do).
 *
 *   node dist/test/win32/wine.js start     the service under Wine with ENGINE=win32, in the
 *                                          foreground; honours HOST, PORT (default 8080),
 *                                          POOL_MIN_THREADS, POOL_MAX_THREADS, LOG_LEVEL and
 *                                          every other setting of the service; Ctrl-C stops it
 *   node dist/test/win32/wine.js test [suite...]
 *                                          suites: conformance (engine suite inside node.exe),
 *                                          e2e (HTTP suite from this Node against the service
 *                                          under Wine), cross-process (a second Windows process
 *                                          contends for the same named mutexes, semaphores and
 *                                          events; also the cold starts and the dashboard page
 *                                          in Chromium); default: all
 *   node dist/test/win32/wine.js provision fetch and prepare everything, run nothing
 *
 * Exit code: 0 when every suite passed, 1 otherwise (2 when the harness cannot run here).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { E2E_SERVER_ENV } from '../e2e/target.js';
import { countBlock } from '../helpers/junit.js';
import { startServer } from '../helpers/server-process.js';
import { logDir, projectRoot, provision, spawnWindowsNode, windowsPath, type WindowsNode } from './wine-env.js';

const say = (line: string): void => console.log(`[wine] ${line}`);

interface SuiteResult { name: string; ok: boolean; detail: string; ms: number }

/** Prints new bytes of a file as they arrive, until stopped. */
function tail(file: string, out: NodeJS.WritableStream): () => void {
  let offset = 0;
  const buffer = Buffer.alloc(64 * 1024);
  const pump = (): void => {
    if (!existsSync(file)) return;
    const fd = openSync(file, 'r');
    try {
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, offset);
        if (n <= 0) break;
        offset += n;
        out.write(buffer.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
  };
  const timer = setInterval(pump, 200);
  return () => { clearInterval(timer); pump(); };
}

async function start(node: WindowsNode): Promise<void> {
  const env: Record<string, string> = { PORT: process.env['PORT'] ?? '8080' };
  if (process.env['HOST'] !== undefined) env['HOST'] = process.env['HOST'];
  if (process.env['ENGINE'] === undefined) env['ENGINE'] = 'win32';
  const log = join(logDir, 'wine-start.log');
  say(`starting the service under ${node.mode === 'wine' ? 'Wine' : 'Windows'} (node ${node.nodeVersion}); log: ${log}`);
  const stopTail = tail(log, process.stdout);
  let server;
  try {
    server = await startServer(env, { windows: node, logFile: log });
  } catch (err) {
    stopTail();
    throw err;
  }
  say(`ready at ${server.baseUrl} (Ctrl-C drains and stops it through ${server.shutdownEvent})`);
  const stop = (): void => {
    say('draining');
    server.stop().catch((err: unknown) => say(`the drain failed, killed: ${(err as Error).message}`));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const code = await server.process.exited;
  stopTail();
  process.exitCode = code === 0 || code === null ? 0 : 1;
}

/** Runs a Linux Node command with inherited output; resolves with its exit code. */
function runLinuxNode(args: readonly string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: projectRoot, env: { ...process.env, ...env }, stdio: 'inherit' });
    child.once('exit', (code) => resolve(code ?? 1));
    child.once('error', () => resolve(1));
  });
}

function testFiles(dir: string): string[] {
  const abs = join(projectRoot, 'dist', 'test', dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(abs, f));
}

/** The test blocks that must have run inside node.exe, with at least one test each. */
const REQUIRED_BLOCKS = [
  'engine conformance: win32', 'engine conformance, semaphores: win32',
  'engine conformance, events and setEventOnReturn: win32', 'engine conformance, abandonment on cue: win32',
  'lease conformance: win32', 'win32 engine specifics', 'win32 engine: semaphores, events, abandonment',
  'native drain request',
] as const;

/**
 * The engine suites inside node.exe: conformance (both engines; mutexes, semaphores,
 * events, abandonment, leases), the win32-only checks and the native drain request. Passes only if node.exe exited 0 AND every required
 * block ran tests (an exit code alone would also pass a suite that skipped itself).
 */
async function conformance(node: WindowsNode): Promise<SuiteResult> {
  const files = [
    ...testFiles('engine').filter((f) => f.endsWith('conformance.test.js')),
    ...testFiles('win32').filter((f) => f.includes('engine-') || f.includes('native-')),
  ];
  if (files.length === 0) return { name: 'conformance', ok: false, detail: 'no test files (did `npm run build` run?)', ms: 0 };
  const report = join(logDir, 'conformance-report.txt');
  const junitReport = join(logDir, 'conformance-report.xml');
  rmSync(junitReport, { force: true });
  const began = Date.now();
  const proc = spawnWindowsNode(node, [
    '--enable-source-maps', '--test', '--test-concurrency=1',
    '--test-reporter=spec', `--test-reporter-destination=${windowsPath(node, report)}`,
    '--test-reporter=junit', `--test-reporter-destination=${windowsPath(node, junitReport)}`,
    ...files.map((f) => windowsPath(node, f)),
  ], { logFile: join(logDir, 'conformance-stdout.txt') });
  const code = await proc.exited;
  const text = existsSync(report) ? readFileSync(report, 'utf8') : '';
  process.stdout.write(text);
  const stdout = proc.readLog();
  if (stdout.trim()) process.stdout.write(`--- node.exe output\n${stdout}`);
  const counts = /ℹ tests (\d+)[\s\S]*?ℹ pass (\d+)[\s\S]*?ℹ fail (\d+)/.exec(text);
  const junit = existsSync(junitReport) ? readFileSync(junitReport, 'utf8') : '';
  const blocks = REQUIRED_BLOCKS.map((name) => ({ name, count: countBlock(junit, name) }));
  const missing = blocks.filter((b) => b.count === undefined || b.count.tests === 0 || b.count.skipped > 0 || b.count.failed > 0);
  const blockDetail = blocks.map((b) => `${b.name}: ${b.count === undefined ? 'not run' : `${b.count.tests} tests, ${b.count.skipped} skipped, ${b.count.failed} failed`}`).join('; ');
  const detail = `${counts ? `${counts[2]}/${counts[1]} passed, ${counts[3]} failed` : `exit ${code}`} [${blockDetail}]`;
  return { name: 'conformance (inside node.exe)', ok: code === 0 && missing.length === 0, detail, ms: Date.now() - began };
}

async function e2e(node: WindowsNode): Promise<SuiteResult> {
  const files = testFiles('e2e');
  if (files.length === 0) return { name: 'e2e', ok: false, detail: 'no test files under dist/test/e2e', ms: 0 };
  const began = Date.now();
  say('starting the service under Wine for the HTTP suite');
  const server = await startServer({ ...E2E_SERVER_ENV, LOG_LEVEL: 'warn' }, { windows: node });
  say(`service ready at ${server.baseUrl}; log ${server.process.logFile}`);
  let code: number;
  try {
    code = await runLinuxNode(['--enable-source-maps', '--test', '--test-concurrency=1', ...files], { TPMUTEX_URL: server.baseUrl });
  } catch (err) {
    await server.stop('SIGKILL');
    throw err;
  }
  // Stopped as an operator would on Windows: its drain event, set by another Windows process.
  const stopped = await server.stop().catch((err: unknown) => (err as Error).message);
  return {
    name: 'e2e (Linux Node → service under Wine)', ok: code === 0 && stopped === 0,
    detail: `exit ${code}; the service, asked to drain through ${server.shutdownEvent}, exited with ${stopped}`, ms: Date.now() - began,
  };
}

async function crossProcess(): Promise<SuiteResult> {
  const files = testFiles('win32').filter((f) => f.includes('cross-process') || f.includes('cold-start') || f.includes('dashboard'));
  if (files.length === 0) return { name: 'cross-process', ok: false, detail: 'no test files', ms: 0 };
  const began = Date.now();
  const code = await runLinuxNode(['--enable-source-maps', '--test', '--test-concurrency=1', ...files], { TPMUTEX_WIN32_HARNESS: '1' });
  return { name: 'cross-process (two Windows processes, shared named mutexes, semaphores and events)', ok: code === 0, detail: `exit ${code}`, ms: Date.now() - began };
}

async function test(node: WindowsNode, only: readonly string[]): Promise<void> {
  const suites: [string, () => Promise<SuiteResult>][] = [
    ['conformance', () => conformance(node)],
    ['e2e', () => e2e(node)],
    ['cross-process', () => crossProcess()],
  ];
  const results: SuiteResult[] = [];
  for (const [name, runSuite] of suites) {
    if (only.length > 0 && !only.includes(name)) continue;
    say(`suite ${name}`);
    try {
      results.push(await runSuite());
    } catch (err) {
      results.push({ name, ok: false, detail: (err as Error).message, ms: 0 });
    }
  }
  say('summary');
  for (const r of results) say(`  ${r.ok ? 'pass' : 'FAIL'}  ${r.name}: ${r.detail} (${(r.ms / 1000).toFixed(1)} s)`);
  say(`logs in ${logDir}`);
  process.exitCode = results.every((r) => r.ok) && results.length > 0 ? 0 : 1;
}

async function main(): Promise<void> {
  const [command = 'test', ...rest] = process.argv.slice(2);
  if (!['start', 'test', 'provision'].includes(command)) {
    console.error('usage: wine.js start | test [conformance|e2e|cross-process]... | provision');
    process.exitCode = 2;
    return;
  }
  if (!existsSync(join(projectRoot, 'prebuilds', 'win32-x64', 'tpmutex-shim.dll')) || !statSync(join(projectRoot, 'dist')).isDirectory()) {
    console.error('[wine] prebuilds/win32-x64/tpmutex-shim.dll is missing: run `npm run build` (needs x86_64-w64-mingw32-gcc)');
    process.exitCode = 2;
    return;
  }
  let node: WindowsNode;
  try {
    const began = Date.now();
    node = provision(say);
    say(`Windows Node ${node.nodeVersion} ready (${node.mode}) in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  } catch (err) {
    console.error(`[wine] ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  if (command === 'provision') return;
  if (command === 'start') await start(node);
  else await test(node, rest);
}

await main();
