/**
 * CPU-bound processes, the portable twin of `yes > /dev/null`, for tests that must hold
 * on a loaded machine. Each hog checks every ~50 ms of spinning that the test process
 * still lives and exits when it does not, so a test that times out or crashes (and
 * never reaches its `after` hook) leaves no spinning process behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const HOG = `const parent = ${process.pid};
for (;;) {
  for (let i = 0; i < 5e7; i++);
  try { process.kill(parent, 0); } catch { process.exit(0); }
}`;

export interface CpuHogs { stop(): void }

export function startCpuHogs(count: number): CpuHogs {
  const hogs: ChildProcess[] = Array.from({ length: count }, () => spawn(process.execPath, ['-e', HOG], { stdio: 'ignore' }));
  const stop = (): void => { for (const hog of hogs) hog.kill('SIGKILL'); };
  process.once('exit', stop);
  return { stop };
}
