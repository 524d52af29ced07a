import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** bytesPerMutex and bytesPerWork, measured in a fresh process with --expose-gc. */
export function measureMemory(quick: boolean): { bytesPerMutex: number; bytesPerWork: number } {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(new URL('./memory-child.js', import.meta.url)), ...(quick ? ['--quick'] : [])], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { bytesPerMutex: number; bytesPerWork: number };
}
