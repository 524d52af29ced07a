/**
 * submitRatio: req/s of POST /v1/work (holdMs 0, 64 mutexes) ÷ req/s of a bare Fastify
 * route answering a same-size JSON in the same process. Load comes from autocannon in
 * this (separate) process.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { abRounds, round } from './stats.js';

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

export async function measureSubmit(quick: boolean) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./target-server.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = await once(createInterface({ input: child.stdout! }), 'line') as [string];
    const ports = JSON.parse(line) as { service: number; bare: number; bytes: number };
    const bodies = Array.from({ length: 64 }, (_, i) => JSON.stringify({ mutex: `bench-${i}`, holdMs: 0 }));
    const seconds = quick ? 2 : 5;
    const ab = await abRounds(quick ? 3 : 5,
      () => load(`http://127.0.0.1:${ports.service}/v1/work`, seconds, bodies),
      () => load(`http://127.0.0.1:${ports.bare}/bare`, seconds, bodies));
    return {
      submitRatio: round(ab.candidateMedian / ab.baselineMedian),
      raw: { submitReqPerSec: ab.candidate.map((v) => round(v, 0)), bareReqPerSec: ab.baseline.map((v) => round(v, 0)), responseBytes: ports.bytes },
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}
