/**
 * What every client command shares: its Io, the parsed command line with a client,
 * how a work and its outcome are printed, and the wait for a work's end.
 */
import { TpmutexClient, type Work } from '../client/index.js';
import { EXIT, exitCodeOf } from './exit-codes.js';
import { objectOf, workLine } from './format.js';
import { parseCommand, type Environment, type Parsed } from './options.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** stdout is a terminal: watch prints readable lines instead of NDJSON. */
  stdoutIsTty: boolean;
  /** Aborted on SIGINT / SIGTERM. */
  signal: AbortSignal;
  env: Environment;
}

export type Command = (args: string[], io: Io) => Promise<number>;

/** The parsed command line and a client for it, or undefined when --help was given. */
export function start(command: string, args: string[], io: Io, own: Parameters<typeof parseCommand>[2] = {}): { parsed: Parsed; client: TpmutexClient } | undefined {
  const parsed = parseCommand(command, args, own, io.env);
  if (parsed.help) return undefined;
  return { parsed, client: new TpmutexClient({ baseUrl: parsed.url, ...(parsed.token === undefined ? {} : { token: parsed.token }) }) };
}

export async function help(command: string, io: Io): Promise<number> {
  const { commandHelp } = await import('./help.js');
  io.out(commandHelp(command).trimEnd());
  return EXIT.ok;
}

/** One document: JSON with --json, else its line. */
export function printOne<T>(io: Io, parsed: Parsed, item: T, line: (item: T) => string): void {
  io.out(parsed.json ? JSON.stringify(item) : line(item));
}

export const printWork = (io: Io, parsed: Parsed, work: Work): void => printOne(io, parsed, work, workLine);

/** The exit code of a work that ended (or holds), with a line on stderr unless it is 0. */
export function reportOutcome(io: Io, work: Work): number {
  const code = exitCodeOf(work);
  if (code !== EXIT.ok) io.err(`tpmutex: work ${work.id} on ${objectOf(work)} ${work.state === 'holding' || work.state === 'released' ? 'acquired the mutex abandoned' : `ended ${work.state}`}${work.error ? `: ${work.error.detail}` : ''}`);
  return code;
}

/** Waits until the work ended; Ctrl-C cancels it (a hold then ends like a signal). */
export async function untilEnded(client: TpmutexClient, work: Work, io: Io, timeoutMs?: number): Promise<Work> {
  const cancel = (): void => { void client.cancelWork(work.id).catch(() => undefined); };
  io.signal.addEventListener('abort', cancel, { once: true });
  try {
    return await client.waitUntilEnded(work.id, timeoutMs === undefined ? {} : { timeoutMs });
  } finally {
    io.signal.removeEventListener('abort', cancel);
  }
}

/**
 * A work just submitted: its id (the work with --json), or with --wait the work once it
 * ended, and the exit code of its outcome.
 */
export async function submitted(client: TpmutexClient, work: Work, wait: boolean, parsed: Parsed, io: Io): Promise<number> {
  if (!wait) {
    io.out(parsed.json ? JSON.stringify(work) : work.id);
    return EXIT.ok;
  }
  const ended = await untilEnded(client, work, io);
  printWork(io, parsed, ended);
  return reportOutcome(io, ended);
}
