import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logDir, spawnWindowsNode, windowsPath } from '../win32/wine-env.js';
import { benchWindowsNode, type BenchEngine } from './service.js';

/** See memory-child.ts for what each counts. */
export interface Memory { bytesPerMutex: number; rssBytesPerMutex: number; heapExternalBytesPerMutex: number; heapBytesPerWork: number }

const CHILD = fileURLToPath(new URL('./memory-child.js', import.meta.url));
const lastJsonLine = (text: string) => JSON.parse(text.trim().split('\n').filter((l) => l.startsWith('{')).at(-1)!) as Memory;

/** bytesPerMutex and heapBytesPerWork on the real engine, measured in a fresh process with --expose-gc (node.exe under Wine for win32). */
export async function measureMemory(engine: BenchEngine, quick: boolean): Promise<Memory> {
  const args = [...(quick ? ['--quick'] : []), '--engine', engine];
  if (engine === 'emulated') return lastJsonLine(execFileSync(process.execPath, ['--expose-gc', CHILD, ...args], { encoding: 'utf8' }));
  const node = benchWindowsNode();
  const proc = spawnWindowsNode(node, ['--expose-gc', windowsPath(node, CHILD), ...args], { logFile: join(logDir, `bench-memory-${process.pid}.log`) });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`memory child exited with ${code}:\n${proc.readLog()}`);
  return lastJsonLine(proc.readLog());
}
