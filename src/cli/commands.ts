/**
 * The client commands: each parses its own flags, talks to the service through
 * TpmutexClient and answers an exit code (exit-codes.ts). Errors are thrown; main()
 * turns them into one line on stderr.
 */
import { DEFAULT_HOLD_LEASE_MS, LeaseLostError, TpmutexClient, WorkNotHeldError, type EventType, type Work, type WorkRequest, type WorkState } from '../client/index.js';
import { isTerminal } from '../schemas/work.js';
import { EXIT, exitCodeOf } from './exit-codes.js';
import { frameLine, mutexLine, statusLines, workLine } from './format.js';
import { runWhileHeld } from './run-command.js';
import { booleanFlag, integerFlag, parseCommand, positionals, stringFlag, type Environment, type Parsed } from './options.js';
import { UsageError } from './usage-error.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** stdout is a terminal: watch prints readable lines instead of NDJSON. */
  stdoutIsTty: boolean;
  /** Aborted on SIGINT / SIGTERM. */
  signal: AbortSignal;
  env: Environment;
}

type Command = (args: string[], io: Io) => Promise<number>;

const REQUEST_FLAGS = {
  'acquire-timeout-ms': { type: 'string' },
  'hold-ms': { type: 'string' },
  'until-signaled': { type: 'boolean' },
  label: { type: 'string' },
  wait: { type: 'boolean' },
  'lease-ms': { type: 'string' },
} as const;

/** The parsed command line and a client for it, or the help text when --help was given. */
function start(command: string, args: string[], io: Io, own: Parameters<typeof parseCommand>[2] = {}): { parsed: Parsed; client: TpmutexClient } | undefined {
  const parsed = parseCommand(command, args, own, io.env);
  if (parsed.help) return undefined;
  return { parsed, client: new TpmutexClient({ baseUrl: parsed.url, ...(parsed.token === undefined ? {} : { token: parsed.token }) }) };
}

const printWork = (io: Io, parsed: Parsed, work: Work): void => io.out(parsed.json ? JSON.stringify(work) : workLine(work));

/** The exit code of a work that ended (or holds), with a line on stderr unless it is 0. */
function reportOutcome(io: Io, work: Work): number {
  const code = exitCodeOf(work);
  if (code !== EXIT.ok) io.err(`tpmutex: work ${work.id} on ${work.mutex} ${work.state === 'holding' || work.state === 'released' ? 'acquired the mutex abandoned' : `ended ${work.state}`}${work.error ? `: ${work.error.detail}` : ''}`);
  return code;
}

/** Waits until the work ended; Ctrl-C cancels it (a hold then ends like a signal). */
async function untilEnded(client: TpmutexClient, work: Work, io: Io, timeoutMs?: number): Promise<Work> {
  const cancel = (): void => { void client.cancelWork(work.id).catch(() => undefined); };
  io.signal.addEventListener('abort', cancel, { once: true });
  try {
    return await client.waitUntilEnded(work.id, timeoutMs === undefined ? {} : { timeoutMs });
  } finally {
    io.signal.removeEventListener('abort', cancel);
  }
}

/** `hold <name> [options] -- <command> [args…]`: what comes after `--` is the command, never options. */
function splitCommand(args: string[]): { own: string[]; command: string[] | undefined } {
  const dash = args.indexOf('--');
  return dash < 0 ? { own: args, command: undefined } : { own: args.slice(0, dash), command: args.slice(dash + 1) };
}

const hold: Command = async (args, io) => {
  const { own, command } = splitCommand(args);
  const s = start('hold', own, io, REQUEST_FLAGS);
  if (!s) return help('hold', io);
  const { parsed, client } = s;
  const [name] = positionals(parsed, ['name'], 'hold');
  const holdMs = integerFlag(parsed, 'hold-ms', 'hold');
  const acquireTimeoutMs = integerFlag(parsed, 'acquire-timeout-ms', 'hold');
  const leaseMs = integerFlag(parsed, 'lease-ms', 'hold');
  const label = stringFlag(parsed, 'label');
  const request = {
    ...(holdMs === undefined ? {} : { holdMs }),
    ...(acquireTimeoutMs === undefined ? {} : { acquireTimeoutMs }),
    ...(label === undefined ? {} : { label }),
  };
  if (command !== undefined) {
    if (command.length === 0) throw new UsageError('hold … -- needs a command after --', 'hold');
    if (booleanFlag(parsed, 'wait')) throw new UsageError('--wait does not go with a command: hold waits for the command', 'hold');
    return holdWhileRunning(client, name!, command, { ...request, leaseMs: leaseMs ?? DEFAULT_HOLD_LEASE_MS }, io);
  }
  let held: Work;
  // A lease is renewed from the submit on when this process stays (--wait): the wait for
  // the mutex may outlast it. Without --wait the caller renews it (tpmutex keepalive).
  let waitLease: ReturnType<TpmutexClient['keepAlive']> | undefined;
  try {
    held = await client.acquire(name!, {
      untilSignaled: booleanFlag(parsed, 'until-signaled') || holdMs === undefined,
      ...request,
      ...(leaseMs === undefined ? {} : { leaseMs }),
      ...(leaseMs !== undefined && booleanFlag(parsed, 'wait') ? { onSubmitted: (work: Work) => { waitLease = client.keepAlive(work.id, leaseMs); } } : {}),
      signal: io.signal,
    });
  } catch (err) {
    waitLease?.stop();
    if (!(err instanceof WorkNotHeldError)) throw err;
    printWork(io, parsed, err.work);
    return reportOutcome(io, err.work);
  }
  if (!booleanFlag(parsed, 'wait')) {
    io.out(parsed.json ? JSON.stringify(held) : held.id);
    return reportOutcome(io, held);
  }
  if (!parsed.json) io.out(held.id);
  // Waiting here, this process keeps the lease alive; killed, it lets the lease run out.
  let ended: Work;
  try {
    ended = await untilEnded(client, held, io);
  } finally {
    waitLease?.stop();
  }
  if (parsed.json) io.out(JSON.stringify(ended));
  return reportOutcome(io, ended);
};

/**
 * Holds `name` under a lease that this process keeps alive, runs the command meanwhile,
 * ends the hold when it exits and answers its exit code. Killed, this process stops
 * renewing and the service ends the hold leaseMs later.
 */
async function holdWhileRunning(client: TpmutexClient, name: string, command: string[], options: { holdMs?: number; acquireTimeoutMs?: number; label?: string; leaseMs: number }, io: Io): Promise<number> {
  let exitCode: number | undefined;
  try {
    return await client.hold(name, async (_work, lost) => {
      exitCode = await runWhileHeld(command, io.signal, lost);
      return exitCode;
    }, { ...options, signal: io.signal });
  } catch (err) {
    if (err instanceof WorkNotHeldError) return reportOutcome(io, err.work);
    if (err instanceof LeaseLostError && exitCode !== undefined) {
      io.err(`tpmutex: ${err.message}; the command ran on without the mutex`);
      return exitCode === EXIT.ok ? EXIT.error : exitCode;
    }
    throw err;
  }
}

const keepalive: Command = async (args, io) => {
  const s = start('keepalive', args, io, { 'lease-ms': { type: 'string' } });
  if (!s) return help('keepalive', io);
  const [id] = positionals(s.parsed, ['id'], 'keepalive');
  const leaseMs = integerFlag(s.parsed, 'lease-ms', 'keepalive');
  printWork(io, s.parsed, await s.client.keepaliveWork(id!, leaseMs === undefined ? {} : { leaseMs }));
  return EXIT.ok;
};

const submit: Command = async (args, io) => {
  const s = start('submit', args, io, {
    ...REQUEST_FLAGS,
    mutex: { type: 'string' }, 'spin-ms': { type: 'string' }, 'may-run-long': { type: 'boolean' },
    'idempotency-key': { type: 'string' }, body: { type: 'string' },
  });
  if (!s) return help('submit', io);
  const { parsed, client } = s;
  positionals(parsed, [], 'submit');
  const key = stringFlag(parsed, 'idempotency-key');
  const work = await client.submitWork(requestOf(parsed), key === undefined ? {} : { idempotencyKey: key });
  if (!booleanFlag(parsed, 'wait')) {
    io.out(parsed.json ? JSON.stringify(work) : work.id);
    return EXIT.ok;
  }
  const ended = await untilEnded(client, work, io);
  printWork(io, parsed, ended);
  return reportOutcome(io, ended);
};

/** The WorkRequest of `submit`: --body as given, or built from the flags (the service validates either). */
function requestOf(parsed: Parsed): WorkRequest {
  const body = stringFlag(parsed, 'body');
  const fieldFlags = ['mutex', 'acquire-timeout-ms', 'hold-ms', 'until-signaled', 'spin-ms', 'may-run-long', 'label', 'lease-ms'].filter((f) => parsed.values[f] !== undefined);
  if (body !== undefined) {
    if (fieldFlags.length > 0) throw new UsageError(`--body is the whole request: drop --${fieldFlags.join(', --')}`, 'submit');
    try {
      return JSON.parse(body) as WorkRequest;
    } catch (err) {
      throw new UsageError(`--body is not JSON: ${(err as Error).message}`, 'submit');
    }
  }
  const mutex = stringFlag(parsed, 'mutex');
  if (mutex === undefined) throw new UsageError('submit needs --mutex <name> (or --body with the whole request)', 'submit');
  const request: WorkRequest = { mutex };
  const numbers = { acquireTimeoutMs: 'acquire-timeout-ms', holdMs: 'hold-ms', spinMs: 'spin-ms', leaseMs: 'lease-ms' } as const;
  for (const [field, flag] of Object.entries(numbers)) {
    const value = integerFlag(parsed, flag, 'submit');
    if (value !== undefined) request[field as keyof typeof numbers] = value;
  }
  if (booleanFlag(parsed, 'until-signaled')) request.untilSignaled = true;
  if (booleanFlag(parsed, 'may-run-long')) request.mayRunLong = true;
  const label = stringFlag(parsed, 'label');
  if (label !== undefined) request.label = label;
  return request;
}

/** signal, cancel, get: one call on one work, which is printed. */
const onOneWork = (command: string, call: (client: TpmutexClient, id: string) => Promise<Work>): Command => async (args, io) => {
  const s = start(command, args, io);
  if (!s) return help(command, io);
  const [id] = positionals(s.parsed, ['id'], command);
  printWork(io, s.parsed, await call(s.client, id!));
  return EXIT.ok;
};

const wait: Command = async (args, io) => {
  const s = start('wait', args, io, { 'timeout-ms': { type: 'string' } });
  if (!s) return help('wait', io);
  const [id] = positionals(s.parsed, ['id'], 'wait');
  const timeoutMs = integerFlag(s.parsed, 'timeout-ms', 'wait');
  const work = await s.client.waitUntilEnded(id!, { ...(timeoutMs === undefined ? {} : { timeoutMs }), signal: io.signal });
  printWork(io, s.parsed, work);
  if (!isTerminal(work.state)) {
    io.err(`tpmutex: work ${work.id} is still ${work.state} after ${timeoutMs} ms`);
    return EXIT.timedOut;
  }
  return reportOutcome(io, work);
};

const ls: Command = async (args, io) => {
  const s = start('ls', args, io, { state: { type: 'string' }, mutex: { type: 'string' }, label: { type: 'string' } });
  if (!s) return help('ls', io);
  const { parsed, client } = s;
  const [what] = positionals(parsed, ['work|mutexes'], 'ls');
  if (what === 'mutexes' || what === 'mutex') {
    print(io, parsed, await allPages((cursor) => client.listMutexes({ limit: PAGE, ...cursor })), mutexLine);
    return EXIT.ok;
  }
  if (what !== 'work' && what !== 'works') throw new UsageError(`ls lists work or mutexes, not ${JSON.stringify(what)}`, 'ls');
  const state = stringFlag(parsed, 'state');
  const mutex = stringFlag(parsed, 'mutex');
  const label = stringFlag(parsed, 'label');
  const filter = {
    ...(state === undefined ? {} : { state: state.split(',') as WorkState[] }),
    ...(mutex === undefined ? {} : { mutex }),
    ...(label === undefined ? {} : { label }),
  };
  print(io, parsed, await allPages((cursor) => client.listWork({ limit: PAGE, ...filter, ...cursor })), workLine);
  return EXIT.ok;
};

/** The largest page the service gives. */
const PAGE = 1000;

/** Every item of a list, page after page. */
async function allPages<T>(page: (cursor: { cursor?: string }) => Promise<{ items: T[]; nextCursor: string | null }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const next: { items: T[]; nextCursor: string | null } = await page(cursor === null ? {} : { cursor });
    items.push(...next.items);
    cursor = next.nextCursor;
  } while (cursor !== null);
  return items;
}

/** A list: one JSON array with --json, else a line per item. */
function print<T>(io: Io, parsed: Parsed, items: T[], line: (item: T) => string): void {
  if (parsed.json) io.out(JSON.stringify(items));
  else for (const item of items) io.out(line(item));
}

const watch: Command = async (args, io) => {
  const s = start('watch', args, io, { mutex: { type: 'string' }, type: { type: 'string', multiple: true }, work: { type: 'string' }, after: { type: 'string' } });
  if (!s) return help('watch', io);
  const { parsed, client } = s;
  positionals(parsed, [], 'watch');
  const types = ((parsed.values['type'] as string[] | undefined) ?? []).flatMap((t) => t.split(',')).filter((t) => t !== '') as EventType[];
  const mutex = stringFlag(parsed, 'mutex');
  const work = stringFlag(parsed, 'work');
  const after = stringFlag(parsed, 'after');
  if (after !== undefined && !/^\d+$/.test(after)) throw new UsageError(`--after takes an event seq, not ${JSON.stringify(after)}`, 'watch');
  const readable = io.stdoutIsTty && !parsed.json;
  for await (const frame of client.events({
    ...(mutex === undefined ? {} : { mutex }), ...(work === undefined ? {} : { work }),
    ...(types.length === 0 ? {} : { types }), ...(after === undefined ? {} : { after: Number(after) }),
    signal: io.signal,
  })) {
    io.out(readable ? frameLine(frame) : JSON.stringify(frame));
  }
  return EXIT.ok;
};

const status: Command = async (args, io) => {
  const s = start('status', args, io);
  if (!s) return help('status', io);
  positionals(s.parsed, [], 'status');
  const current = await s.client.getStatus();
  if (s.parsed.json) io.out(JSON.stringify(current));
  else for (const line of statusLines(current)) io.out(line);
  return EXIT.ok;
};

async function help(command: string, io: Io): Promise<number> {
  const { commandHelp } = await import('./help.js');
  io.out(commandHelp(command).trimEnd());
  return EXIT.ok;
}

export const COMMANDS: Record<string, Command> = {
  hold, submit, wait, ls, watch, status, keepalive,
  signal: onOneWork('signal', (client, id) => client.signalWork(id)),
  cancel: onOneWork('cancel', (client, id) => client.cancelWork(id)),
  get: onOneWork('get', (client, id) => client.getWork(id)),
};
