/**
 * submitRatio: req/s of POST /v1/work (holdMs 0, 64 mutexes) ÷ req/s of a bare Fastify
 * server in a process of its own answering the same bytes (bare-server.ts; Linux Node
 * for the emulated engine, Windows Node under the same Wine for win32). Load comes from
 * autocannon in this (separate) process; the sides alternate, one at a time.
 *
 * The raw figures add two more sides from the service's process (target-server.ts):
 * - submitRatioInProcess: the same ratio against a bare route in the service's own
 *   process. That route shares the process with the engine's threads and heap, which
 *   slow it too, so this ratio flatters the service; it was submitRatio until the
 *   baseline moved out of process.
 * - threadlessSubmitReqPerSec: the service on an engine with no threads
 *   (threadless-engine.ts), which splits the gap between the service and its engine.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { until } from '../helpers/wait.js';
import { logDir, spawnWindowsNode, windowsPath } from '../win32/wine-env.js';
import { benchWindowsNode, type BenchEngine } from './service.js';
import { interleavedRounds, pairedRatio, round } from './stats.js';
import { BENCH_MUTEXES, benchWork } from './subscribers.js';

interface TargetPorts { service: number; bare: number; threadless: number; bytes: number; answer: string }
interface Started<T> { info: T; stop(): Promise<void> }

const TARGET_SERVER = fileURLToPath(new URL('./target-server.js', import.meta.url));
const BARE_SERVER = fileURLToPath(new URL('./bare-server.js', import.meta.url));

async function load(url: string, durationSec: number, bodies: readonly string[]): Promise<number> {
  let i = 0;
  const result = await autocannon({
    url, method: 'POST', connections: 32, pipelining: 1, duration: durationSec,
    headers: { 'content-type': 'application/json' },
    requests: [{ setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length]! }) }],
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return result.requests.average;
}

/** Runs `script` (Linux Node, or Windows Node for win32) until it prints a JSON line starting with `prefix`. */
async function startScript<T>(engine: BenchEngine, script: string, prefix: string, env: Record<string, string>): Promise<Started<T>> {
  if (engine === 'emulated') {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    const exited = once(child, 'exit');
    const stop = async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); await exited; };
    const lines = createInterface({ input: child.stdout! });
    const line = await Promise.race([
      (async () => { for await (const l of lines) if (l.startsWith(prefix)) return l; throw new Error(`${script} ended before it listened`); })(),
      exited.then(([code]) => { throw new Error(`${script} exited with ${code} before it listened`); }),
    ]);
    return { info: JSON.parse(line) as T, stop };
  }
  const node = benchWindowsNode();
  const name = script.split(/[\\/]/).pop()!.replace(/\.js$/, '');
  const proc = spawnWindowsNode(node, [windowsPath(node, script)], { logFile: join(logDir, `bench-${name}-${process.pid}.log`), env });
  const stop = async () => { proc.child.kill('SIGKILL'); await proc.exited; };
  try {
    const info = await until(`the win32 ${name}`, () => {
      const line = proc.readLog().split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) return JSON.parse(line) as T;
      if (proc.child.exitCode !== null) throw new Error(`${name} exited:\n${proc.readLog()}`);
      return undefined;
    }, 120_000, 200);
    return { info, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function measureSubmit(engine: BenchEngine, quick: boolean) {
  const target = await startScript<TargetPorts>(engine, TARGET_SERVER, '{"service"', { ENGINE: engine });
  try {
    const ports = target.info;
    const bare = await startScript<{ bare: number }>(engine, BARE_SERVER, '{"bare"', { BENCH_BARE_ANSWER: ports.answer });
    try {
      const bodies = Array.from({ length: BENCH_MUTEXES }, (_, i) => JSON.stringify(benchWork(i)));
      const seconds = quick ? 2 : 4;
      const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;
      const samples = await interleavedRounds(quick ? 5 : 7, { // odd: the median is one of the rounds
        service: () => load(url(ports.service, '/v1/work'), seconds, bodies),
        bare: () => load(url(bare.info.bare, '/bare'), seconds, bodies),
        inProcessBare: () => load(url(ports.bare, '/bare'), seconds, bodies),
        threadless: () => load(url(ports.threadless, '/v1/work'), seconds, bodies),
      });
      const perSec = (values: number[]) => values.map((v) => round(v, 0));
      return {
        submitRatio: round(pairedRatio(samples.service, samples.bare)),
        raw: {
          submitReqPerSec: perSec(samples.service), bareReqPerSec: perSec(samples.bare),
          submitRatioInProcess: round(pairedRatio(samples.service, samples.inProcessBare)),
          inProcessBareReqPerSec: perSec(samples.inProcessBare),
          // The same service on an engine with no threads: what HTTP + service cost alone.
          threadlessSubmitReqPerSec: perSec(samples.threadless), responseBytes: ports.bytes,
        },
      };
    } finally {
      await bare.stop();
    }
  } finally {
    await target.stop();
  }
}
