#!/usr/bin/env node
/**
 * The `tpmutex` binary: with no arguments (or `serve`) it runs the service
 * (src/server.ts); otherwise it is a client of a running service for harness scripts.
 * Like server.ts, an entry point: it reads the environment (TPMUTEX_URL,
 * TPMUTEX_TOKEN) and sets the exit code.
 */
import { TpmutexConnectionError, TpmutexProblemError } from '../client/index.js';
import { COMMANDS, type Io } from './commands.js';
import { EXIT } from './exit-codes.js';
import { UsageError } from './usage-error.js';

/** `tpmutex --url U status` means `tpmutex status --url U`: common flags may come before the command. */
function commandFirst(argv: string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json' || /^--(url|token)=/.test(arg)) leading.push(arg);
    else if ((arg === '--url' || arg === '--token') && i + 1 < argv.length) leading.push(arg, argv[++i]!);
    else break;
  }
  // Right after the command: after the rest they could land behind `hold … -- <command>`.
  return leading.length === 0 || i === argv.length ? argv : [argv[i]!, ...leading, ...argv.slice(i + 1)];
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = commandFirst(argv);
  if (command === undefined || (command === 'serve' && args.length === 0)) {
    await import('../server.js');
    return EXIT.ok;
  }
  const { commandHelp, mainHelp } = await import('./help.js');
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(args[0] !== undefined && args[0] in COMMANDS ? commandHelp(args[0]) : mainHelp());
    return EXIT.ok;
  }
  if (command === 'serve') {
    if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) { process.stdout.write(commandHelp('serve')); return EXIT.ok; }
    throw new UsageError('serve takes no arguments: the service is configured by environment variables', 'serve');
  }
  const run = COMMANDS[command];
  if (run === undefined) throw new UsageError(`unknown command ${JSON.stringify(command)}`);

  const interrupted = new AbortController();
  const stop = (): void => interrupted.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A reader that went away (`tpmutex watch | head`) ends the command, quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') stop(); else throw err; });
  const io: Io = {
    out: (line) => { if (!interrupted.signal.aborted) process.stdout.write(`${line}\n`); },
    err: (line) => { process.stderr.write(`${line}\n`); },
    stdoutIsTty: process.stdout.isTTY === true,
    signal: interrupted.signal,
    env: { TPMUTEX_URL: process.env['TPMUTEX_URL'], TPMUTEX_TOKEN: process.env['TPMUTEX_TOKEN'] },
  };
  try {
    return await run(args, io);
  } catch (err) {
    // Interrupted: the command cancelled what it had to; nothing more to say.
    if (interrupted.signal.aborted) return EXIT.error;
    throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** One line on stderr: what went wrong, never a stack trace. */
function describe(err: unknown): string {
  if (err instanceof UsageError) return `${err.message} (see tpmutex ${err.command === undefined ? '' : `${err.command} `}--help)`;
  if (err instanceof TpmutexProblemError || err instanceof TpmutexConnectionError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  process.stderr.write(`tpmutex: ${describe(err).replace(/\s*\n\s*/g, ' ')}\n`);
  process.exitCode = EXIT.error;
});
