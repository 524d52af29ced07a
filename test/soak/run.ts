/**
 * `npm run soak -- --seconds N [--engine emulated|win32] [--json] [--out DIR]`: the
 * service under a constant mixed load (load.ts) for N seconds, sampled every 5 s from
 * /metrics, then judged. It fails (exit 1) on any lost event, work that never reached a
 * terminal state, 5xx, transport error, answer outside the expected ones, wrong outcome
 * or double end; the slopes of heap, RSS and handles are reported and compared with
 * their targets but never change the exit code (a short run cannot judge them). Bad
 * arguments exit 2.
 *
 * The service runs with a small WORK_HISTORY, so that retention reaches its steady state
 * in the first seconds; the warm-up (stats.ts) is left out of the slopes and of the
 * event latency. --engine win32 runs it under Windows Node (Wine on Linux) as the
 * benchmark does. --out DIR writes the samples as they come (JSON lines) and, at the
 * end, an SVG of heap, RSS and handles over time.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs as parseArgv } from 'node:util';
import { startBenchService, type BenchEngine } from '../bench/service.js';
import { percentile, round } from '../bench/stats.js';
import { SoakClient } from './client.js';
import { EngineClock } from './clock.js';
import { EventFollower } from './event-follower.js';
import { MixedLoad } from './load.js';
import { plotSvg } from './plot.js';
import { parseExposition, sample, type Sample } from './sampler.js';
import { after, slopePerMinute, warmUpSeconds } from './stats.js';
import { WorkLedger } from './work-ledger.js';

const SAMPLE_EVERY_MS = 5000;
const CHURNING_SUBSCRIBERS = 3;
/** Slope targets after the warm-up, judged over runs of 10 minutes or more. */
export const SLOPE_TARGETS = { heapSlopeBytesPerMin: 256 * 1024, rssSlopeBytesPerMin: 1024 * 1024, handleSlopePerMin: 1 } as const;
const JUDGED_FROM_SECONDS = 600;

const USAGE = 'usage: npm run soak -- [--seconds N (default 600, at least 20)] [--engine emulated|win32] [--json] [--out DIR]';

/** Strict: an unknown flag is an error, not a default run of ten minutes. */
function parseArgs(argv: string[]): { seconds: number; engine: BenchEngine; json: boolean; out: string | undefined } | 'help' {
  const { values } = parseArgv({
    args: argv, strict: true, allowPositionals: false,
    options: { seconds: { type: 'string' }, engine: { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return 'help';
  const seconds = Number(values.seconds ?? 600);
  const engine = values.engine ?? 'emulated';
  if (!Number.isInteger(seconds) || seconds < 20) throw new Error(`--seconds ${values.seconds}: expected a whole number of seconds, at least 20`);
  if (engine !== 'emulated' && engine !== 'win32') throw new Error(`--engine ${engine}: expected emulated or win32`);
  return { seconds, engine, json: values.json ?? false, out: values.out };
}

let parsed: ReturnType<typeof parseArgs>;
try {
  parsed = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (parsed === 'help') {
  console.log(USAGE);
  process.exit(0);
}
const args = parsed;
const { seconds, engine, json, out } = args;
const warmUp = warmUpSeconds(seconds);
const progress = (line: string) => console.error(`[soak ${engine}] ${line}`);
const samplesFile = out === undefined ? undefined : join(out, `soak-${engine}-samples.jsonl`);
if (out !== undefined) { mkdirSync(out, { recursive: true }); writeFileSync(samplesFile!, ''); }

progress(`${seconds} s of mixed load, warm-up ${warmUp} s, a sample every ${SAMPLE_EVERY_MS / 1000} s`);
const service = await startBenchService(engine, { WORK_HISTORY: '200', EVENT_BUFFER: '10000', LOG_LEVEL: 'warn' });
const client = new SoakClient(service.baseUrl);
const ledger = new WorkLedger();
const latenciesMs: number[] = [];
const tag = Date.now().toString(36);
// The emulated engine reads this machine's CLOCK_MONOTONIC, like process.hrtime here: no offset to follow.
const engineClock = new EngineClock(client, ledger, `soak-${tag}-clock`, service.clockOffsetNs);
const RECALIBRATE_EVERY_SAMPLES = 12;
const began = Date.now();
const elapsed = () => (Date.now() - began) / 1000;

// The ledger's subscriber never leaves by choice (the server may cut it: it resumes);
// the churning ones leave and resume every few seconds. All of them count gaps in seq.
const ledgerFollower = new EventFollower(service.baseUrl, {
  churn: false,
  onEvent: (frame) => {
    if (!frame.event.startsWith('work.')) return;
    const { work } = JSON.parse(frame.data) as { work: { id: string; releasedAtNs: string | null } };
    const state = ledger.onEvent(frame.event, work.id);
    if (state === 'released' && work.releasedAtNs !== null && elapsed() >= warmUp) {
      latenciesMs.push(Number(process.hrtime.bigint() - engineClock.toLocalNs(BigInt(work.releasedAtNs))) / 1e6);
    }
  },
});
const followers = [ledgerFollower, ...Array.from({ length: CHURNING_SUBSCRIBERS }, () => new EventFollower(service.baseUrl, { churn: true }))];
const load = new MixedLoad(client, ledger, tag);
const samples: Sample[] = [];
let exitCode = 0;
try {
  await Promise.all(followers.map((f) => f.start()));
  load.start();
  const end = began + seconds * 1000;
  let nextSample = began;
  while (Date.now() < end) {
    const s = await sample(client, elapsed());
    samples.push(s);
    if (samplesFile !== undefined) appendFileSync(samplesFile, `${JSON.stringify(s)}\n`);
    if (samples.length % 12 === 1) {
      progress(`${Math.round(s.t)} s: ${ledger.works} works, heap ${(s.heapUsedBytes / 2 ** 20).toFixed(1)} MiB (${(s.heapAfterMajorGcBytes / 2 ** 20).toFixed(1)} after major GC), RSS ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB, ${s.handles} handles, ${s.poolThreads} pool threads, ${s.retainedWorks} retained works, ${s.sseSubscribers} SSE, lag p99 ${(s.eventLoopLagP99Seconds * 1000).toFixed(1)} ms`);
    }
    if (engine === 'win32' && samples.length % RECALIBRATE_EVERY_SAMPLES === 0) await engineClock.recalibrate();
    nextSample += SAMPLE_EVERY_MS;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(nextSample, end) - Date.now())));
  }
  progress('load stopped; waiting for every work to end');
  await load.stop();
  const drainDeadline = Date.now() + 60_000;
  while (ledger.notTerminal > 0 && Date.now() < drainDeadline) await new Promise((resolve) => setTimeout(resolve, 200));
  // Let the churning subscribers catch up with the last events before they are counted.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const serverCounted = countServerErrors(await client.call('GET', '/metrics', [200]));
  await Promise.all(followers.map((f) => f.stop()));

  const measured = after(samples, warmUp);
  const series = (key: keyof Sample) => measured.map((s) => ({ t: s.t, y: s[key] }));
  const first = samples[0]!, last = samples.at(-1)!;
  // The heap slope is read from the floors major collections leave: with fewer than
  // three after the warm-up it has too few points to say anything.
  const majorGcsMeasured = last.majorGcs - (measured[0]?.majorGcs ?? last.majorGcs);
  const report = {
    works: ledger.works,
    lostEvents: followers.reduce((sum, f) => sum + f.lost, 0),
    notTerminal: ledger.notTerminal,
    serverErrors: Math.max(client.tally.serverErrors, serverCounted),
    heapSlopeBytesPerMin: Math.round(slopePerMinute(series('heapAfterMajorGcBytes'))),
    rssSlopeBytesPerMin: Math.round(slopePerMinute(series('rssBytes'))),
    handleSlopePerMin: round(slopePerMinute(series('handles')), 2),
    eventP99Ms: round(percentile(latenciesMs, 99), 1),
    engine, seconds, warmUpSeconds: warmUp, samples: samples.length,
    heapUsedSlopeBytesPerMin: Math.round(slopePerMinute(series('heapUsedBytes'))),
    externalSlopeBytesPerMin: Math.round(slopePerMinute(series('externalBytes'))),
    retainedWorksSlopePerMin: round(slopePerMinute(series('retainedWorks')), 2),
    eventP50Ms: round(percentile(latenciesMs, 50), 1),
    eventLoopLagP99MsMax: round(Math.max(...measured.map((s) => s.eventLoopLagP99Seconds)) * 1000, 1),
    requests: client.tally.requests, transportErrors: client.tally.transportErrors, unexpectedAnswers: client.tally.unexpected,
    wrongOutcomes: ledger.wrongOutcomes, doubleEnds: ledger.doubleEnds, duplicateEvents: followers.reduce((sum, f) => sum + f.duplicates, 0),
    outcomes: ledger.outcomes, badInputs: load.badInputs, majorGcsAfterWarmUp: majorGcsMeasured,
    resumes: followers.reduce((sum, f) => sum + f.resumes, 0), resets: followers.reduce((sum, f) => sum + f.resets, 0), overflows: followers.reduce((sum, f) => sum + f.overflows, 0),
    start: pick(first), end: pick(last),
    examples: [...client.tally.examples, ...ledger.wrongOutcomeExamples, ...ledger.notTerminalExamples().map((id) => `${id}: no terminal event`), ...followers.flatMap((f) => f.failures)],
  };
  const failed = (['lostEvents', 'notTerminal', 'serverErrors', 'transportErrors', 'unexpectedAnswers', 'wrongOutcomes', 'doubleEnds', 'duplicateEvents'] as const).filter((k) => report[k] !== 0);
  const slopeVerdicts = Object.fromEntries(Object.entries(SLOPE_TARGETS).map(([key, limit]) => {
    const value = report[key as keyof typeof SLOPE_TARGETS];
    if (seconds < JUDGED_FROM_SECONDS) return [key, 'not judged (run under 10 min)'];
    if (key === 'heapSlopeBytesPerMin' && majorGcsMeasured < 3) return [key, `not judged (${majorGcsMeasured} major GCs after the warm-up)`];
    return [key, value < limit ? 'met' : 'MISSED'];
  }));
  if (failed.length > 0) exitCode = 1;

  if (out !== undefined) {
    const svg = plotSvg(`tpmutex soak, ${engine} engine, ${Math.round(seconds / 60)} min`, [
      { title: 'heap used at the sample', unit: 'MiB', scale: 2 ** 20, points: samples.map((s) => ({ t: s.t, y: s.heapUsedBytes })) },
      { title: 'heap after the last major GC (heapSlopeBytesPerMin)', unit: 'MiB', scale: 2 ** 20, points: samples.map((s) => ({ t: s.t, y: s.heapAfterMajorGcBytes })) },
      { title: 'RSS', unit: 'MiB', scale: 2 ** 20, points: samples.map((s) => ({ t: s.t, y: s.rssBytes })) },
      { title: 'OS handles', unit: 'handles', scale: 1, points: samples.map((s) => ({ t: s.t, y: s.handles })) },
    ], warmUp);
    writeFileSync(join(out, `soak-${engine}.svg`), svg);
  }
  if (json) {
    console.log(JSON.stringify({ ...report, failed, slopes: slopeVerdicts }));
  } else {
    console.log(`\ntpmutex soak: ${engine} engine, ${seconds} s (warm-up ${warmUp} s), ${samples.length} samples, node ${process.version}`);
    console.log('\n| figure | value | target | |\n|---|---|---|---|');
    for (const key of ['lostEvents', 'notTerminal', 'serverErrors', 'transportErrors', 'unexpectedAnswers', 'wrongOutcomes', 'doubleEnds', 'duplicateEvents'] as const) {
      console.log(`| ${key} | ${report[key]} | 0 | ${report[key] === 0 ? 'ok' : 'FAILED'} |`);
    }
    for (const [key, limit] of Object.entries(SLOPE_TARGETS)) console.log(`| ${key} | ${report[key as keyof typeof SLOPE_TARGETS]} | < ${limit} | ${slopeVerdicts[key]} |`);
    for (const key of ['works', 'eventP99Ms', 'eventP50Ms', 'eventLoopLagP99MsMax', 'heapUsedSlopeBytesPerMin', 'majorGcsAfterWarmUp', 'externalSlopeBytesPerMin', 'retainedWorksSlopePerMin', 'requests', 'badInputs', 'resumes', 'resets', 'overflows'] as const) {
      console.log(`| ${key} | ${report[key]} | | |`);
    }
    console.log(`\noutcomes: ${JSON.stringify(report.outcomes)}\nfirst sample: ${JSON.stringify(report.start)}\nlast sample:  ${JSON.stringify(report.end)}`);
    if (report.examples.length > 0) console.log(`\nexamples:\n  ${report.examples.join('\n  ')}`);
    console.log(failed.length === 0 ? '\nPASS' : `\nFAIL: ${failed.join(', ')}`);
  }
} catch (err) {
  console.error(`soak failed: ${(err as Error).stack ?? String(err)}`);
  exitCode = 1;
} finally {
  await load.stop();
  await Promise.all(followers.map((f) => f.stop()));
  client.close();
  // A service that died under the soak cannot be drained: say so, and keep the verdict.
  await service.stop().catch((err: unknown) => { console.error(`stopping the service failed: ${(err as Error).message}`); exitCode = 1; });
}
process.exit(exitCode);

function pick(s: Sample) {
  return { t: Math.round(s.t), heapUsedMiB: round(s.heapUsedBytes / 2 ** 20, 1), heapAfterMajorGcMiB: round(s.heapAfterMajorGcBytes / 2 ** 20, 1), rssMiB: round(s.rssBytes / 2 ** 20, 1), externalMiB: round(s.externalBytes / 2 ** 20, 1), handles: s.handles, poolThreads: s.poolThreads, retainedWorks: s.retainedWorks, sseSubscribers: s.sseSubscribers, mutexesOpen: s.mutexesOpen };
}

/** 5xx answers the service itself counted (tpmutex_http_requests_total by status). */
function countServerErrors(answer: { text: string } | undefined): number {
  if (answer === undefined) return 0;
  let total = 0;
  for (const line of answer.text.split('\n')) {
    if (line.startsWith('tpmutex_http_requests_total{') && /status_code="5\d\d"/.test(line)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
