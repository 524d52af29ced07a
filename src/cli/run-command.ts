/**
 * The command of `tpmutex hold <name> -- <command> [args…]`: run with this process's
 * stdin, stdout and stderr while the mutex (or semaphore unit) is held; its exit code
 * is the CLI's. An interrupted CLI (Ctrl+C, SIGTERM) passes the request on and still
 * waits for the command, so the hold ends only after the command did.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { UsageError } from './usage-error.js';

/**
 * Resolves with the command's exit code; killed by a signal: 128 + its number, as a
 * shell reports it. `held` names what is held, for the warning when the lease runs out.
 */
export function runWhileHeld(command: string[], interrupted: AbortSignal, lost: AbortSignal, held = 'the mutex'): Promise<number> {
  const [file, ...args] = command;
  return new Promise<number>((resolve, reject) => {
    const child = spawn(file!, args, { stdio: 'inherit' });
    const stop = (): void => { child.kill('SIGTERM'); };
    interrupted.addEventListener('abort', stop, { once: true });
    const warn = (): void => { process.stderr.write(`tpmutex: the lease ran out while the command runs: ${held} is no longer held\n`); };
    lost.addEventListener('abort', warn, { once: true });
    const done = (): void => {
      interrupted.removeEventListener('abort', stop);
      lost.removeEventListener('abort', warn);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      done();
      reject(err.code === 'ENOENT' ? new UsageError(`cannot run ${JSON.stringify(file)}: no such command`, 'hold') : err);
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal] ?? 0));
    });
  });
}
