/** `tpmutex --help` and `tpmutex <command> --help`. */
import { DEFAULT_HOLD_LEASE_MS } from '../client/client.js';
import { DEFAULT_URL } from './options.js';

const COMMON = `Common options:
  --url URL        the service (env TPMUTEX_URL, default ${DEFAULT_URL})
  --token TOKEN    a bearer token (env TPMUTEX_TOKEN)
  --json           print JSON instead of lines
  -h, --help       this help`;

const EXIT_CODES = `Exit codes: 0 released or OK, 2 timed out, 3 cancelled, 4 failed,
5 acquired abandoned (the previous owner died holding it), 1 usage, connection or
HTTP error (one line on stderr). hold … -- <command> exits with the command's code.`;

export const COMMAND_HELP: Record<string, string> = {
  serve: `tpmutex serve
  Run the service (the same as running tpmutex with no arguments). It is configured by
  environment variables: HOST, PORT, ENGINE, … (README "Configuration").`,
  hold: `tpmutex hold <name> [--lease-ms N] [--acquire-timeout-ms N] [--hold-ms N] [--label L] -- <command> [args…]
tpmutex hold <name> [--hold-ms N] [--until-signaled] [--acquire-timeout-ms N] [--lease-ms N] [--wait] [--label L]
  With a command: acquire the mutex <name>, run the command while holding it (its
  stdin/stdout/stderr are this terminal's), keep the lease alive meanwhile, end the hold
  when the command exits and exit with its exit code (128+N when killed by signal N).
  Ctrl+C or a kill of tpmutex ends the command and the hold; if tpmutex itself dies
  (SIGKILL, a crashed runner), the service ends the hold once the lease runs out.
  The command is not run when the acquire fails (exit 2 timed out, 3 cancelled, 4 failed).
  The command runs without a shell: on Windows write cmd /c npm test for a .cmd/.bat.
  Without a command: submit a work that holds the mutex and return as soon as it holds
  it, printing the work id (the whole work with --json); end the hold later with
  tpmutex signal <id>.
  --lease-ms N            the lease (default ${DEFAULT_HOLD_LEASE_MS} with a command, none without):
                          unless renewed within N ms the service ends the hold
                          (renew it with tpmutex keepalive <id>; with --wait,
                          tpmutex renews it while it waits)
  --until-signaled        hold until signalled or cancelled (the default without --hold-ms)
  --hold-ms N             hold for N ms; with --until-signaled, the longest hold
  --acquire-timeout-ms N  give up waiting for the mutex after N ms (exit 2)
  --wait                  return only when the hold has ended (exit code of the outcome)
  --label L               free text to find the work by`,
  keepalive: `tpmutex keepalive <id> [--lease-ms N]
  Renew a work's lease (or give it one of N ms). Prints the work; exit 1 with a 409
  when the lease already ran out or the work ended.`,
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
  work.timed_out work.cancelled work.failed work.abandoned work.lease_expired
  mutex.opened mutex.closed`,
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
  tpmutex hold <name> [options] -- <command> [args…]
                                        run a command while holding a mutex
  tpmutex hold <name> [options]         hold a mutex; prints the work id once held
  tpmutex keepalive <id>                renew a work's lease
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
