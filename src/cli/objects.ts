/**
 * The kernel objects as commands: `tpmutex mutex|semaphore|event <verb> <name>`, one
 * verb per call of the API on that kind of object. Opened objects print with `created`
 * or `existed` (and `created` in the JSON), so a script can tell who made it.
 */
import type { TpmutexClient } from '../client/index.js';
import { help, printOne, start, submitted, type Command, type Io } from './command.js';
import { EXIT } from './exit-codes.js';
import { eventObjectLine, mutexLine, openedLine, semaphoreLine } from './format.js';
import { booleanFlag, integerFlag, positionals, stringFlag, type Parsed } from './options.js';
import { UsageError } from './usage-error.js';

/** One verb on the object `name`. */
type Verb = {
  flags?: Parameters<typeof start>[3];
  run(client: TpmutexClient, name: string, parsed: Parsed, io: Io, command: string): Promise<number>;
};

/** The object as opened, with `created` in the JSON too: the API says it by the status code. */
function printOpened<T extends { created: boolean }>(io: Io, parsed: Parsed, object: T, line: (object: T) => string): void {
  io.out(parsed.json ? JSON.stringify({ ...object, created: object.created }) : openedLine(line, object));
}

/**
 * `tpmutex <group> <verb> <name> [options]`. Common flags may come before the verb
 * (main() puts `tpmutex --json semaphore …`'s there), so the verb is the first word that
 * is neither a flag nor a flag's value.
 */
const group = (command: string, verbs: Record<string, Verb>): Command => async (args, io) => {
  let at = 0;
  while (at < args.length && args[at]!.startsWith('-')) at += args[at] === '--url' || args[at] === '--token' ? 2 : 1;
  const word = args[at];
  if (word === undefined) {
    if (args.includes('--help') || args.includes('-h')) return help(command, io);
    throw new UsageError(`${command} takes a verb: ${Object.keys(verbs).join(', ')}`, command);
  }
  const verb = verbs[word];
  if (verb === undefined) throw new UsageError(`${command} takes ${Object.keys(verbs).join(', ')}, not ${JSON.stringify(word)}`, command);
  const name = `${command} ${word}`;
  const s = start(name, [...args.slice(0, at), ...args.slice(at + 1)], io, verb.flags ?? {});
  if (!s) return help(command, io);
  const [object] = positionals(s.parsed, ['name'], name);
  return verb.run(s.client, object!, s.parsed, io, name);
};

/** A verb that answers the object: printed as a line, or the JSON document. */
const showing = <T>(call: (client: TpmutexClient, name: string) => Promise<T>, line: (object: T) => string): Verb => ({
  run: async (client, name, parsed, io) => {
    printOne(io, parsed, await call(client, name), line);
    return EXIT.ok;
  },
});

/** close: the API answers nothing worth printing (204, or the mutex as it was); a failure is exit 1. */
const closing = (call: (client: TpmutexClient, name: string) => Promise<unknown>): Verb => ({
  run: async (client, name) => {
    await call(client, name);
    return EXIT.ok;
  },
});

export const mutexCommand = group('mutex', {
  open: { run: async (client, name, parsed, io) => { printOpened(io, parsed, await client.openMutex(name), mutexLine); return EXIT.ok; } },
  get: showing((client, name) => client.getMutex(name), mutexLine),
  close: closing((client, name) => client.closeMutex(name)),
  abandon: {
    flags: { 'acquire-timeout-ms': { type: 'string' }, label: { type: 'string' }, 'idempotency-key': { type: 'string' }, wait: { type: 'boolean' } },
    run: async (client, name, parsed, io, command) => {
      const acquireTimeoutMs = integerFlag(parsed, 'acquire-timeout-ms', command);
      const label = stringFlag(parsed, 'label');
      const key = stringFlag(parsed, 'idempotency-key');
      const work = await client.abandonMutex(name, {
        ...(acquireTimeoutMs === undefined ? {} : { acquireTimeoutMs }),
        ...(label === undefined ? {} : { label }),
      }, key === undefined ? {} : { idempotencyKey: key });
      return submitted(client, work, booleanFlag(parsed, 'wait'), parsed, io);
    },
  },
});

export const semaphoreCommand = group('semaphore', {
  open: {
    flags: { 'initial-count': { type: 'string' }, 'maximum-count': { type: 'string' } },
    run: async (client, name, parsed, io, command) => {
      const initialCount = integerFlag(parsed, 'initial-count', command, 'units');
      const maximumCount = integerFlag(parsed, 'maximum-count', command, 'units');
      const opened = await client.openSemaphore(name, {
        ...(initialCount === undefined ? {} : { initialCount }),
        ...(maximumCount === undefined ? {} : { maximumCount }),
      });
      printOpened(io, parsed, opened, semaphoreLine);
      return EXIT.ok;
    },
  },
  get: showing((client, name) => client.getSemaphore(name), semaphoreLine),
  close: closing((client, name) => client.closeSemaphore(name)),
});

export const eventCommand = group('event', {
  open: {
    flags: { 'manual-reset': { type: 'boolean' }, signaled: { type: 'boolean' } },
    run: async (client, name, parsed, io) => {
      const opened = await client.openEventObject(name, { manualReset: booleanFlag(parsed, 'manual-reset'), initialState: booleanFlag(parsed, 'signaled') });
      printOpened(io, parsed, opened, eventObjectLine);
      return EXIT.ok;
    },
  },
  get: showing((client, name) => client.getEventObject(name), eventObjectLine),
  set: showing((client, name) => client.setEventObject(name), eventObjectLine),
  reset: showing((client, name) => client.resetEventObject(name), eventObjectLine),
  close: closing((client, name) => client.closeEventObject(name)),
});
