/**
 * Run with --expose-gc by memory.ts, in a fresh process (node.exe under Wine for win32),
 * on the engine named by --engine — the real one, with its threads and native memory:
 *
 * - bytesPerMutex, per opened mutex (over 10,000): the growth of the process's resident
 *   set (RSS), which holds the JS heap, external buffers and everything allocated
 *   natively — the emulated engine's SharedArrayBuffer table, the win32 engine's
 *   koffi-allocated mutex records, Wine's own per-handle bookkeeping — or the growth of
 *   heap + external if that is larger (V8 may have had the pages already). Both are in
 *   the raw figures. No pool thread runs meanwhile, so RSS is quiet enough here:
 *   repeated runs agree within about 25% on a loaded machine, within 10% on a quieter one.
 *   RSS grows more than heap + external (by 350–850 B per mutex on either engine), and
 *   that part is not per mutex. The loop allocates ~11 MB that all survive, so V8
 *   grows its young generation to the maximum (v8.getHeapSpaceStatistics():
 *   new_space's size goes up by ~16 MB while its used size ends near zero), and the
 *   pages it touched stay resident after the GCs. With --max-semi-space-size=1 the RSS
 *   growth falls below heap + external, on both engines. The figure still takes the larger.
 * - heapBytesPerWork, per retained finished work (over 20,000; 10,000 quick): the growth
 *   of heap + external, with every work run to `released` by the engine's pool threads,
 *   the service at its defaults (EVENT_BUFFER 10,000, already full before the
 *   measurement starts, so the replay buffer's bounded share is not charged to the
 *   works) and WORK_HISTORY large enough to keep every measured work. A finished work
 *   leaves nothing native behind on either engine (the win32 engine recycles its native
 *   records, at most maxThreads of them), so what it retains is on the JS heap. Its RSS
 *   growth is not reported: with 16 pool threads running, RSS moves by ±15 MB from one
 *   sample to the next, more than 20,000 works add.
 *
 * Kernel objects (the mutex itself, the win32 engine's events and thread-pool objects)
 * live outside the process — in the kernel on Windows, in wineserver under Wine — and
 * are counted by neither figure. Prints one JSON line.
 */
import { selectEngine } from '../../src/engine/select.js';
import type { Engine } from '../../src/engine/types.js';
import { createServices } from '../../src/services.js';
import { testConfig } from '../helpers/config.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

interface Sample { heapExternal: number; rss: number }
const sample = (): Sample => {
  gc(); gc();
  const m = process.memoryUsage();
  return { heapExternal: m.heapUsed + m.external, rss: m.rss };
};
const perItem = (before: Sample, after: Sample, count: number) => ({
  rss: Math.round((after.rss - before.rss) / count),
  heapExternal: Math.round((after.heapExternal - before.heapExternal) / count),
});

const POOL = { minThreads: 4, maxThreads: 16 };

async function bytesPerMutex(engine: Engine, count: number) {
  const services = createServices(testConfig({ MAX_MUTEXES: String(count + 10) }), engine);
  services.mutexes.open('Local\\warm-up');
  const before = sample();
  for (let i = 0; i < count; i++) services.mutexes.open(`Local\\bench-mutex-${i}`);
  return perItem(before, sample(), count);
}

async function bytesPerWork(engine: Engine, count: number) {
  const warmUp = 4000; // 5 events each: the 10,000-event buffer is full before the measurement
  const total = warmUp + count;
  const services = createServices(testConfig({
    WORK_HISTORY: String(total), MAX_QUEUED_WORK: String(total), MAX_QUEUED_WORK_PER_MUTEX: String(total),
  }), engine);
  let submitted = 0;
  // In batches that finish before the next: a queue of 20,000 would be measured too.
  const runWorks = async (n: number) => {
    for (let done = 0; done < n; done += 500) {
      for (let i = 0; i < Math.min(500, n - done); i++, submitted++) {
        services.work.submit({ mutex: `bench-${submitted % 64}`, holdMs: 0, label: `w${submitted % 100}` }, undefined);
      }
      while (services.work.unfinishedCount > 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  await runWorks(warmUp);
  if (services.events.after(0).events.length < services.config.events.bufferSize) throw new Error('the event buffer is not full after the warm-up');
  const before = sample();
  await runWorks(count);
  const after = sample();
  if (services.work.retainedCount < total) throw new Error(`only ${services.work.retainedCount} of ${total} works retained`);
  return perItem(before, after, count);
}

const quick = process.argv.includes('--quick');
const engineKind = process.argv.includes('win32') ? 'win32' : 'emulated';
const start = async () => { const engine = await selectEngine(engineKind, { pool: POOL }); await engine.start(); return engine; };

// One engine per figure, so that each starts from the same state.
let engine = await start();
const mutex = await bytesPerMutex(engine, 10_000);
await engine.close({ timeoutMs: 5000 });
engine = await start();
const work = await bytesPerWork(engine, quick ? 10_000 : 20_000);
await engine.close({ timeoutMs: 5000 });
console.log(JSON.stringify({
  bytesPerMutex: Math.max(mutex.rss, mutex.heapExternal), rssBytesPerMutex: mutex.rss, heapExternalBytesPerMutex: mutex.heapExternal,
  heapBytesPerWork: work.heapExternal,
}));
