/**
 * Run with --expose-gc by memory.ts: heap + external growth per opened mutex (over
 * 10,000, on the engine named by --engine: the emulated engine's SharedArrayBuffer
 * table, or the win32 engine's koffi-allocated records and handles, count) and per retained
 * finished work (over 100,000, service bookkeeping only: a scripted engine finishes
 * them, so no thread is involved). Prints one JSON line.
 */
import { selectEngine } from '../../src/engine/select.js';
import { createServices } from '../../src/services.js';
import { testConfig } from '../helpers/config.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const used = () => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.external; };

async function bytesPerMutex(engineKind: 'emulated' | 'win32', count: number): Promise<number> {
  const engine = await selectEngine(engineKind, { pool: { minThreads: 1, maxThreads: 1 } });
  await engine.start();
  const services = createServices(testConfig({ MAX_MUTEXES: String(count + 10), EVENT_BUFFER: '1' }), engine);
  services.mutexes.open('Local\\warm-up');
  const before = used();
  for (let i = 0; i < count; i++) services.mutexes.open(`Local\\bench-mutex-${i}`);
  const after = used();
  await engine.close({ timeoutMs: 1000 });
  return (after - before) / count;
}

function bytesPerWork(count: number): number {
  const engine = new ScriptedEngine();
  const services = createServices(testConfig({ WORK_HISTORY: String(count), MAX_QUEUED_WORK: String(count), MAX_QUEUED_WORK_PER_MUTEX: String(count), EVENT_BUFFER: '1' }), engine);
  const finish = (id: string, token: number) => {
    engine.emit({ type: 'started', workId: id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'acquired', workId: id, threadId: 1, abandoned: false, fencingToken: token });
    engine.emit({ type: 'returned', workId: id, signaled: false });
    engine.emit({ type: 'released', workId: id });
  };
  finish(services.work.submit({ mutex: 'bench' }, undefined).work.id, 1);
  const before = used();
  for (let i = 0; i < count; i++) finish(services.work.submit({ mutex: 'bench', label: `w${i % 100}` }, undefined).work.id, i + 2);
  const after = used();
  if (services.work.retainedCount < count) throw new Error(`only ${services.work.retainedCount} works retained`);
  return (after - before) / count;
}

const quick = process.argv.includes('--quick');
const engineKind = process.argv.includes('win32') ? 'win32' : 'emulated';
console.log(JSON.stringify({
  bytesPerMutex: Math.round(await bytesPerMutex(engineKind, quick ? 2000 : 10_000)),
  bytesPerWork: Math.round(bytesPerWork(quick ? 20_000 : 100_000)),
}));
