/**
 * e2eRatio: works/s completed end to end over HTTP (submitted → released, observed on
 * the event stream) ÷ works/s of the same engine driven in this process with no HTTP.
 * eventP99Ms: engine `released` stamp → SSE frame received, p99, with works submitted
 * at a steady 1,000/s. The emulated engine's clock is process.hrtime (CLOCK_MONOTONIC),
 * the same clock in every process on this machine, so the client can compare.
 */
import { selectEngine } from '../../src/engine/select.js';
import { Api } from '../e2e/api.js';
import { SseClient } from '../e2e/sse.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { SERVER_ENTRY } from '../helpers/server-process.js';
import { abRounds, percentile, round } from './stats.js';

const SERVER_ENV = {
  ENGINE: 'emulated', LOG_LEVEL: 'silent', POOL_MIN_THREADS: '4', POOL_MAX_THREADS: '16', EVENT_BUFFER: '100000',
  MAX_QUEUED_WORK: '1000000', MAX_QUEUED_WORK_PER_MUTEX: '1000000', WORK_HISTORY: '20000', MAX_EVENT_LOOP_DELAY_MS: '0',
};
const body = (i: number) => ({ mutex: `bench-${i % 64}`, holdMs: 0 });
const releasedCount = (stream: SseClient) => stream.frames.filter((f) => f.event === 'work.released').length;

async function overHttp(api: Api, baseUrl: string, works: number): Promise<number> {
  const stream = await SseClient.open(baseUrl, '/v1/events?types=work.released');
  const began = process.hrtime.bigint();
  for (let i = 0; i < works; i += 64) await Promise.all(Array.from({ length: Math.min(64, works - i) }, (_, j) => api.submitOk(body(i + j))));
  await stream.waitFor(() => releasedCount(stream) >= works, 120_000, `${works} released`);
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  stream.close();
  return works / seconds;
}

async function inProcess(works: number): Promise<number> {
  const engine = await selectEngine('emulated', { pool: { minThreads: 4, maxThreads: 16 } });
  await engine.start();
  for (let m = 0; m < 64; m++) engine.openMutex(`Local\\bench-${m}`);
  let released = 0;
  const done = new Promise<void>((resolve) => engine.onPhase((p) => { if (p.type === 'released' && ++released === works) resolve(); }));
  const began = process.hrtime.bigint();
  for (let i = 0; i < works; i++) engine.submit({ workId: `w${i}`, mutex: `Local\\bench-${i % 64}`, acquireTimeoutMs: 60_000, spinMs: 0, holdMs: 0, mayRunLong: false });
  await done;
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  await engine.close({ timeoutMs: 5_000 });
  return works / seconds;
}

/** Submits at `perSecond` for `seconds`; returns released-stamp → frame-received latencies in ms. */
async function eventLatency(api: Api, baseUrl: string, perSecond: number, seconds: number): Promise<number[]> {
  const latencies: number[] = [];
  const stream = await SseClient.open(baseUrl, '/v1/events?types=work.released');
  const seen = stream.frames.length;
  const original = stream.frames.push.bind(stream.frames);
  // Stamp each frame as it is parsed, on this process's monotonic clock.
  stream.frames.push = (...frames) => {
    const now = process.hrtime.bigint();
    for (const f of frames) {
      const releasedAtNs = (f.json['work'] as { releasedAtNs?: string } | undefined)?.releasedAtNs;
      if (releasedAtNs) latencies.push(Number(now - BigInt(releasedAtNs)) / 1e6);
    }
    return original(...frames);
  };
  const total = perSecond * seconds;
  const began = Date.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = began + (i * 1000) / perSecond;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(api.submitOk(body(i)));
  }
  await Promise.all(pending);
  await stream.waitFor(() => stream.frames.length - seen >= total, 120_000, 'latency run released');
  stream.close();
  return latencies;
}

/** A port free right now (the server logs nothing at LOG_LEVEL=silent, so it is chosen here). */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, 'close');
  return port;
}

export async function measureEndToEnd(quick: boolean) {
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER_ENTRY], { env: { ...process.env, ...SERVER_ENV, HOST: '127.0.0.1', PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  const server = { baseUrl: `http://127.0.0.1:${port}` };
  try {
    const api = new Api(server.baseUrl);
    await api.waitReady(30_000);
    const works = quick ? 1000 : 4000;
    const ab = await abRounds(quick ? 3 : 5, () => overHttp(api, server.baseUrl, works), () => inProcess(works));
    const latencies = await eventLatency(api, server.baseUrl, 1000, quick ? 2 : 5);
    return {
      e2eRatio: round(ab.candidateMedian / ab.baselineMedian),
      eventP99Ms: round(percentile(latencies, 99)),
      raw: {
        httpWorksPerSec: ab.candidate.map((v) => round(v, 0)),
        inProcessWorksPerSec: ab.baseline.map((v) => round(v, 0)),
        eventLatencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), samples: latencies.length },
      },
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}
