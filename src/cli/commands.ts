/**
 * The client commands: each parses its own flags, talks to the service through
 * TpmutexClient and answers an exit code (exit-codes.ts). Errors are thrown; main()
 * turns them into one line on stderr.
 */
import { DEFAULT_HOLD_LEASE_MS, LeaseLostError, TpmutexClient, WorkNotHeldError, type EventType, type Work, type WorkRequest, type WorkState } from '../client/index.js';
import { isTerminal } from '../schemas/work.js';
import { help, printWork, reportOutcome, start, submitted, untilEnded, type Command, type Io } from './command.js';
import { EXIT } from './exit-codes.js';
import { eventObjectLine, frameLine, mutexLine, semaphoreLine, statusLines, workLine } from './format.js';
import { eventCommand, mutexCommand, semaphoreCommand } from './objects.js';
import { runWhileHeld } from './run-command.js';
import { booleanFlag, integerFlag, positionals, stringFlag, type Parsed } from './options.js';
import { UsageError } from './usage-error.js';

export type { Io } from './command.js';

const REQUEST_FLAGS = {
  'acquire-timeout-ms': { type: 'string' },
  'hold-ms': { type: 'string' },
  'until-signaled': { type: 'boolean' },
  label: { type: 'string' },
  wait: { type: 'boolean' },
  'lease-ms': { type: 'string' },
  'set-event': { type: 'string' },
} as const;

/** `hold <name> [options] -- <command> [args…]`: what comes after `--` is the command, never options. */
function splitCommand(args: string[]): { own: string[]; command: string[] | undefined } {
  const dash = args.indexOf('--');
  return dash < 0 ? { own: args, command: undefined } : { own: args.slice(0, dash), command: args.slice(dash + 1) };
}

/** What a hold acquires: a mutex, or one unit of a semaphore. */
interface Target { kind: 'mutex' | 'semaphore'; name: string }

/** `hold NAME` and `hold --mutex NAME` hold a mutex, `hold --semaphore NAME` one unit of a semaphore. */
function targetOf(parsed: Parsed): Target {
  const mutex = stringFlag(parsed, 'mutex');
  const semaphore = stringFlag(parsed, 'semaphore');
  if (mutex !== undefined && semaphore !== undefined) throw new UsageError('hold takes --mutex or --semaphore, not both', 'hold');
  if (mutex === undefined && semaphore === undefined) return { kind: 'mutex', name: positionals(parsed, ['name'], 'hold')[0]! };
  if (parsed.positionals.length > 0) throw new UsageError(`hold takes its name once: drop ${JSON.stringify(parsed.positionals[0])} or the --${mutex === undefined ? 'semaphore' : 'mutex'} flag`, 'hold');
  return mutex === undefined ? { kind: 'semaphore', name: semaphore! } : { kind: 'mutex', name: mutex };
}

const hold: Command = async (args, io) => {
  const { own, command } = splitCommand(args);
  const s = start('hold', own, io, { ...REQUEST_FLAGS, mutex: { type: 'string' }, semaphore: { type: 'string' } });
  if (!s) return help('hold', io);
  const { parsed, client } = s;
  const target = targetOf(parsed);
  const holdMs = integerFlag(parsed, 'hold-ms', 'hold');
  const acquireTimeoutMs = integerFlag(parsed, 'acquire-timeout-ms', 'hold');
  const leaseMs = integerFlag(parsed, 'lease-ms', 'hold');
  const label = stringFlag(parsed, 'label');
  const setEvent = stringFlag(parsed, 'set-event');
  const request = {
    ...(holdMs === undefined ? {} : { holdMs }),
    ...(acquireTimeoutMs === undefined ? {} : { acquireTimeoutMs }),
    ...(label === undefined ? {} : { label }),
    ...(setEvent === undefined ? {} : { setEventOnReturn: setEvent }),
  };
  if (command !== undefined) {
    if (command.length === 0) throw new UsageError('hold … -- needs a command after --', 'hold');
    if (booleanFlag(parsed, 'wait')) throw new UsageError('--wait does not go with a command: hold waits for the command', 'hold');
    return holdWhileRunning(client, target, command, { ...request, leaseMs: leaseMs ?? DEFAULT_HOLD_LEASE_MS }, io);
  }
  let held: Work;
  // A lease is renewed from the submit on when this process stays (--wait): the wait for
  // the mutex may outlast it. Without --wait the caller renews it (tpmutex keepalive).
  let waitLease: ReturnType<TpmutexClient['keepAlive']> | undefined;
  try {
    const options = {
      untilSignaled: booleanFlag(parsed, 'until-signaled') || holdMs === undefined,
      ...request,
      ...(leaseMs === undefined ? {} : { leaseMs }),
      ...(leaseMs !== undefined && booleanFlag(parsed, 'wait') ? { onSubmitted: (work: Work) => { waitLease = client.keepAlive(work.id, leaseMs); } } : {}),
      signal: io.signal,
    };
    held = await (target.kind === 'mutex' ? client.acquire(target.name, options) : client.acquireSemaphore(target.name, options));
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
 * Holds the target under a lease that this process keeps alive, runs the command
 * meanwhile, ends the hold when it exits and answers its exit code. Killed, this process
 * stops renewing and the service ends the hold leaseMs later.
 */
async function holdWhileRunning(client: TpmutexClient, target: Target, command: string[], options: { holdMs?: number; acquireTimeoutMs?: number; label?: string; setEventOnReturn?: string; leaseMs: number }, io: Io): Promise<number> {
  const held = target.kind === 'mutex' ? 'the mutex' : 'the semaphore unit';
  let exitCode: number | undefined;
  const run = async (_work: Work, lost: AbortSignal): Promise<number> => {
    exitCode = await runWhileHeld(command, io.signal, lost, held);
    return exitCode;
  };
  try {
    const holding = { ...options, signal: io.signal };
    return await (target.kind === 'mutex' ? client.hold(target.name, run, holding) : client.holdSemaphore(target.name, run, holding));
  } catch (err) {
    if (err instanceof WorkNotHeldError) return reportOutcome(io, err.work);
    if (err instanceof LeaseLostError && exitCode !== undefined) {
      io.err(`tpmutex: ${err.message}; the command ran on without ${held}`);
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
    mutex: { type: 'string' }, semaphore: { type: 'string' }, 'spin-ms': { type: 'string' }, 'may-run-long': { type: 'boolean' },
    'idempotency-key': { type: 'string' }, body: { type: 'string' },
  });
  if (!s) return help('submit', io);
  const { parsed, client } = s;
  positionals(parsed, [], 'submit');
  const key = stringFlag(parsed, 'idempotency-key');
  const work = await client.submitWork(requestOf(parsed), key === undefined ? {} : { idempotencyKey: key });
  return submitted(client, work, booleanFlag(parsed, 'wait'), parsed, io);
};

/** The WorkRequest of `submit`: --body as given, or built from the flags (the service validates either). */
function requestOf(parsed: Parsed): WorkRequest {
  const body = stringFlag(parsed, 'body');
  const fieldFlags = ['mutex', 'semaphore', 'set-event', 'acquire-timeout-ms', 'hold-ms', 'until-signaled', 'spin-ms', 'may-run-long', 'label', 'lease-ms'].filter((f) => parsed.values[f] !== undefined);
  if (body !== undefined) {
    if (fieldFlags.length > 0) throw new UsageError(`--body is the whole request: drop --${fieldFlags.join(', --')}`, 'submit');
    try {
      return JSON.parse(body) as WorkRequest;
    } catch (err) {
      throw new UsageError(`--body is not JSON: ${(err as Error).message}`, 'submit');
    }
  }
  const mutex = stringFlag(parsed, 'mutex');
  const semaphore = stringFlag(parsed, 'semaphore');
  const setEvent = stringFlag(parsed, 'set-event');
  // Which of them go together (not mutex and semaphore) is the service's to say.
  if (mutex === undefined && semaphore === undefined && setEvent === undefined) {
    throw new UsageError('submit needs --mutex <name>, --semaphore <name> or --set-event <name> (or --body with the whole request)', 'submit');
  }
  const request: WorkRequest = {
    ...(mutex === undefined ? {} : { mutex }),
    ...(semaphore === undefined ? {} : { semaphore }),
    ...(setEvent === undefined ? {} : { setEventOnReturn: setEvent }),
  };
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

/** What `ls` lists, by the word for it (singular or plural). */
const LISTS = ['work', 'mutexes', 'semaphores', 'events'] as const;
const LIST_WORDS: Record<string, typeof LISTS[number]> = {
  work: 'work', works: 'work', mutex: 'mutexes', mutexes: 'mutexes', semaphore: 'semaphores', semaphores: 'semaphores',
  event: 'events', events: 'events', 'event-object': 'events', 'event-objects': 'events',
};

const ls: Command = async (args, io) => {
  const s = start('ls', args, io, { state: { type: 'string' }, mutex: { type: 'string' }, semaphore: { type: 'string' }, label: { type: 'string' } });
  if (!s) return help('ls', io);
  const { parsed, client } = s;
  const [word] = positionals(parsed, [LISTS.join('|')], 'ls');
  const what = LIST_WORDS[word!];
  if (what === undefined) throw new UsageError(`ls lists ${LISTS.slice(0, -1).join(', ')} or ${LISTS.at(-1)}, not ${JSON.stringify(word)}`, 'ls');
  if (what !== 'work') {
    const filters = ['state', 'mutex', 'semaphore', 'label'].filter((f) => parsed.values[f] !== undefined);
    if (filters.length > 0) throw new UsageError(`--${filters.join(', --')} filter${filters.length === 1 ? 's' : ''} works, not ${what}`, 'ls');
  }
  switch (what) {
    case 'mutexes': print(io, parsed, await allPages((cursor) => client.listMutexes({ limit: PAGE, ...cursor })), mutexLine); return EXIT.ok;
    case 'semaphores': print(io, parsed, await allPages((cursor) => client.listSemaphores({ limit: PAGE, ...cursor })), semaphoreLine); return EXIT.ok;
    case 'events': print(io, parsed, await allPages((cursor) => client.listEventObjects({ limit: PAGE, ...cursor })), eventObjectLine); return EXIT.ok;
    case 'work': break;
  }
  const state = stringFlag(parsed, 'state');
  const mutex = stringFlag(parsed, 'mutex');
  const semaphore = stringFlag(parsed, 'semaphore');
  const label = stringFlag(parsed, 'label');
  const filter = {
    ...(state === undefined ? {} : { state: state.split(',') as WorkState[] }),
    ...(mutex === undefined ? {} : { mutex }),
    ...(semaphore === undefined ? {} : { semaphore }),
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
  const s = start('watch', args, io, {
    mutex: { type: 'string' }, semaphore: { type: 'string' }, event: { type: 'string' },
    type: { type: 'string', multiple: true }, work: { type: 'string' }, after: { type: 'string' },
  });
  if (!s) return help('watch', io);
  const { parsed, client } = s;
  positionals(parsed, [], 'watch');
  const types = ((parsed.values['type'] as string[] | undefined) ?? []).flatMap((t) => t.split(',')).filter((t) => t !== '') as EventType[];
  // The service filters by one object's name, whatever its kind: each flag reads right for its kind.
  const objects = (['mutex', 'semaphore', 'event'] as const).filter((f) => parsed.values[f] !== undefined);
  if (objects.length > 1) throw new UsageError(`watch follows one object: --${objects.join(' or --')}`, 'watch');
  const mutex = objects[0] === undefined ? undefined : stringFlag(parsed, objects[0]);
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

export const COMMANDS: Record<string, Command> = {
  hold, submit, wait, ls, watch, status, keepalive,
  mutex: mutexCommand, semaphore: semaphoreCommand, event: eventCommand, 'event-object': eventCommand,
  signal: onOneWork('signal', (client, id) => client.signalWork(id)),
  cancel: onOneWork('cancel', (client, id) => client.cancelWork(id)),
  get: onOneWork('get', (client, id) => client.getWork(id)),
};
