/**
 * submitRatio: req/s of POST /v1/work (holdMs 0, 64 mutexes) ÷ req/s of a bare Fastify
 * route answering a same-size JSON in the same process (target-server.ts, on Linux Node
 * for the emulated engine, under Windows Node for win32). Load comes from autocannon in
 * this (separate) process. The raw figures add the service on a threadless engine
 * (threadless-engine.ts), which splits the gap between the service and its engine.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { logDir, spawnWindowsNode, until, windowsPath } from '../win32/wine-env.js';
import { benchWindowsNode, type BenchEngine } from './service.js';
import { interleavedRounds, median, round } from './stats.js';
import { BENCH_MUTEXES, benchWork } from './subscribers.js';

interface TargetPorts { service: number; bare: number; threadless: number; bytes: number }
interface Target { ports: TargetPorts; stop(): Promise<void> }

const TARGET_SERVER = fileURLToPath(new URL('./target-server.js', import.meta.url));

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

async function startLocalTarget(): Promise<Target> {
  const child = spawn(process.execPath, [TARGET_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const [line] = await once(createInterface({ input: child.stdout! }), 'line') as [string];
  return { ports: JSON.parse(line) as TargetPorts, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

async function startWindowsTarget(): Promise<Target> {
  const node = benchWindowsNode();
  const proc = spawnWindowsNode(node, [windowsPath(node, TARGET_SERVER)], { logFile: join(logDir, `bench-target-${process.pid}.log`), env: { ENGINE: 'win32' } });
  const stop = async () => { proc.child.kill('SIGKILL'); await proc.exited; };
  try {
    const ports = await until('the win32 target server', () => {
      const line = proc.readLog().split('\n').find((l) => l.startsWith('{"service"'));
      if (line !== undefined) return JSON.parse(line) as TargetPorts;
      if (proc.child.exitCode !== null) throw new Error(`target server exited:\n${proc.readLog()}`);
      return undefined;
    }, 120_000, 200);
    return { ports, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function measureSubmit(engine: BenchEngine, quick: boolean) {
  const target = engine === 'emulated' ? await startLocalTarget() : await startWindowsTarget();
  try {
    const { ports } = target;
    const bodies = Array.from({ length: BENCH_MUTEXES }, (_, i) => JSON.stringify(benchWork(i)));
    const seconds = quick ? 2 : 5;
    const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;
    const samples = await interleavedRounds(quick ? 3 : 5, {
      service: () => load(url(ports.service, '/v1/work'), seconds, bodies),
      bare: () => load(url(ports.bare, '/bare'), seconds, bodies),
      threadless: () => load(url(ports.threadless, '/v1/work'), seconds, bodies),
    });
    const perSec = (values: number[]) => values.map((v) => round(v, 0));
    return {
      submitRatio: round(median(samples.service) / median(samples.bare)),
      raw: {
        submitReqPerSec: perSec(samples.service), bareReqPerSec: perSec(samples.bare),
        // The same service on an engine with no threads: what HTTP + service cost alone.
        threadlessSubmitReqPerSec: perSec(samples.threadless), responseBytes: ports.bytes,
      },
    };
  } finally {
    await target.stop();
  }
}
