/** `tpmutex --help` and `tpmutex <command> --help`. */
import { DEFAULT_URL } from './options.js';

const COMMON = `Common options:
  --url URL        the service (env TPMUTEX_URL, default ${DEFAULT_URL})
  --token TOKEN    a bearer token (env TPMUTEX_TOKEN)
  --json           print JSON instead of lines
  -h, --help       this help`;

const EXIT_CODES = `Exit codes: 0 released or OK, 2 timed out, 3 cancelled, 4 failed,
5 acquired abandoned (the previous owner died holding it), 1 usage, connection or
HTTP error (one line on stderr).`;

export const COMMAND_HELP: Record<string, string> = {
  serve: `tpmutex serve
  Run the service (the same as running tpmutex with no arguments). It is configured by
  environment variables: HOST, PORT, ENGINE, … (README "Configuration").`,
  hold: `tpmutex hold <name> [--hold-ms N] [--until-signaled] [--acquire-timeout-ms N] [--wait] [--label L]
  Submit a work that holds the mutex <name> and return as soon as it holds it, printing
  the work id (the whole work with --json); end the hold later with tpmutex signal <id>.
  --until-signaled        hold until signalled or cancelled (the default without --hold-ms)
  --hold-ms N             hold for N ms; with --until-signaled, the longest hold
  --acquire-timeout-ms N  give up waiting for the mutex after N ms (exit 2)
  --wait                  return only when the hold has ended (exit code of the outcome)
  --label L               free text to find the work by`,
  submit: `tpmutex submit --mutex <name> [--acquire-timeout-ms N] [--hold-ms N] [--until-signaled]
               [--spin-ms N] [--may-run-long] [--label L] [--idempotency-key K] [--wait]
tpmutex submit --body '<WorkRequest JSON>' [--idempotency-key K] [--wait]
  Submit a work (the full request) and print its id (the work with --json); --wait
  waits until it ended and exits with the code of its outcome.`,
  signal: `tpmutex signal <id>
  Make a holding work return now: the mutex is released. Prints the work.`,
  cancel: `tpmutex cancel <id>
  Cancel a work: queued or waiting → cancelled; holding → like signal. Prints the work.`,
  wait: `tpmutex wait <id> [--timeout-ms N]
  Wait until the work ended (at most N ms: then exit 2) and exit with the code of its
  outcome. Prints the work.`,
  get: `tpmutex get <id>
  Print one work.`,
  ls: `tpmutex ls work [--state S[,S…]] [--mutex N] [--label L]
tpmutex ls mutexes
  List works (oldest first) or open mutexes, every page.`,
  watch: `tpmutex watch [--mutex N] [--type T[,T…]] [--work ID] [--after SEQ]
  Follow the events live (readable lines on a terminal, NDJSON otherwise or with
  --json), resuming by itself after a broken connection, until interrupted.
  Types: work.queued work.started work.acquired work.returned work.released
  work.timed_out work.cancelled work.failed mutex.opened mutex.closed`,
  status: `tpmutex status
  The service's status: works, held mutexes, the pool. Exit 1 when it cannot be reached.`,
};

export function commandHelp(command: string): string {
  return `${COMMAND_HELP[command] ?? ''}\n\n${COMMON}\n\n${EXIT_CODES}\n`;
}

export function mainHelp(): string {
  return `tpmutex: named Windows mutexes held by thread-pool callbacks, over HTTP.

Usage:
  tpmutex [serve]                       run the service
  tpmutex hold <name> [options]         hold a mutex; prints the work id once held
  tpmutex submit [options]              submit a work (the full request)
  tpmutex signal <id>                   end a hold now
  tpmutex cancel <id>                   cancel a work
  tpmutex wait <id> [--timeout-ms N]    wait until a work ended
  tpmutex get <id>                      one work
  tpmutex ls work|mutexes               lists
  tpmutex watch [--mutex N] [--type T]  live events
  tpmutex status                        the service's status

Run tpmutex <command> --help for a command's options.

${COMMON}

${EXIT_CODES}
`;
}
