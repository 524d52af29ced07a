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

const HOLD_TARGET = `tpmutex hold <name> holds the mutex <name> (also: --mutex <name>); tpmutex hold
  --semaphore <name> holds one unit of the semaphore <name> instead, which must be open
  (tpmutex semaphore open <name> --maximum-count N): at most N holders at once.`;

export const COMMAND_HELP: Record<string, string> = {
  serve: `tpmutex serve
  Run the service (the same as running tpmutex with no arguments). It is configured by
  environment variables: HOST, PORT, ENGINE, … (README "Configuration").`,
  hold: `tpmutex hold <name> [--lease-ms N] [--acquire-timeout-ms N] [--hold-ms N] [--label L] [--set-event E] -- <command> [args…]
tpmutex hold <name> [--hold-ms N] [--until-signaled] [--acquire-timeout-ms N] [--lease-ms N] [--wait] [--label L] [--set-event E]
tpmutex hold --semaphore <name> [the same options] [-- <command> [args…]]
  ${HOLD_TARGET}
  With a command: acquire the mutex (or unit), run the command while holding it (its
  stdin/stdout/stderr are this terminal's), keep the lease alive meanwhile, end the hold
  when the command exits and exit with its exit code (128+N when killed by signal N).
  Ctrl+C or a kill of tpmutex ends the command and the hold; if tpmutex itself dies
  (SIGKILL, a crashed runner), the service ends the hold once the lease runs out.
  The command is not run when the acquire fails (exit 2 timed out, 3 cancelled, 4 failed).
  The command runs without a shell: on Windows write cmd /c npm test for a .cmd/.bat.
  Without a command: submit a work that holds the mutex (or unit) and return as soon as
  it holds it, printing the work id (the whole work with --json); end the hold later
  with tpmutex signal <id>.
  --lease-ms N            the lease (default ${DEFAULT_HOLD_LEASE_MS} with a command, none without):
                          unless renewed within N ms the service ends the hold
                          (renew it with tpmutex keepalive <id>; with --wait,
                          tpmutex renews it while it waits)
  --until-signaled        hold until signalled or cancelled (the default without --hold-ms)
  --hold-ms N             hold for N ms; with --until-signaled, the longest hold
  --acquire-timeout-ms N  give up waiting for the mutex (or unit) after N ms (exit 2)
  --wait                  return only when the hold has ended (exit code of the outcome)
  --label L               free text to find the work by
  --set-event E           the pool sets the open event object E when the hold ends
                          (after releasing a mutex: whoever wakes on E finds it free)`,
  keepalive: `tpmutex keepalive <id> [--lease-ms N]
  Renew a work's lease (or give it one of N ms). Prints the work; exit 1 with a 409
  when the lease already ran out or the work ended.`,
  submit: `tpmutex submit --mutex <name>|--semaphore <name> [--set-event E] [--acquire-timeout-ms N]
               [--hold-ms N] [--until-signaled] [--spin-ms N] [--may-run-long] [--label L]
               [--lease-ms N] [--idempotency-key K] [--wait]
tpmutex submit --set-event E [options]
tpmutex submit --body '<WorkRequest JSON>' [--idempotency-key K] [--wait]
  Submit a work (the full request) and print its id (the work with --json); --wait
  waits until it ended and exits with the code of its outcome. It acquires a mutex, or
  one unit of an open semaphore (not both), and/or has the pool set the open event
  object E when its callback returns.`,
  signal: `tpmutex signal <id>
  Make a holding work return now: the mutex is released. Prints the work.`,
  cancel: `tpmutex cancel <id>
  Cancel a work: queued or waiting → cancelled; holding → like signal. Prints the work.`,
  wait: `tpmutex wait <id> [--timeout-ms N]
  Wait until the work ended (at most N ms: then exit 2) and exit with the code of its
  outcome. Prints the work.`,
  get: `tpmutex get <id>
  Print one work.`,
  ls: `tpmutex ls work [--state S[,S…]] [--mutex N] [--semaphore N] [--label L]
tpmutex ls mutexes|semaphores|events
  List works (oldest first), or the open mutexes, semaphores or event objects, every
  page: a line each, a JSON array with --json.
  Mutexes:    <name> <state> holder=<id> waiting=N queued=N token=N
  Semaphores: <name> count=<available>/<maximum> holders=<id,…> waiting=N queued=N
  Events:     <name> signaled|nonsignaled manual-reset|auto-reset pending-setters=N`,
  watch: `tpmutex watch [--mutex N | --semaphore N | --event N] [--type T[,T…]] [--work ID] [--after SEQ]
  Follow the events live (readable lines on a terminal, NDJSON otherwise or with
  --json), resuming by itself after a broken connection, until interrupted.
  --mutex, --semaphore, --event: only the events of that object and of the works on it.
  Types: work.queued work.started work.acquired work.returned work.released
  work.timed_out work.cancelled work.failed work.abandoned work.lease_expired
  mutex.opened mutex.closed semaphore.opened semaphore.closed
  event-object.opened event-object.closed event-object.set event-object.reset`,
  status: `tpmutex status
  The service's status: works, leases, held mutexes, semaphores with units held here,
  event objects, the pool. Exit 1 when it cannot be reached.`,
  mutex: `tpmutex mutex open <name>
tpmutex mutex get <name>
tpmutex mutex close <name>
tpmutex mutex abandon <name> [--acquire-timeout-ms N] [--label L] [--idempotency-key K] [--wait]
  open: open or create the mutex; prints its line and "created" (this call created it)
    or "existed" (it was open already, here or in the OS); --json: the mutex with
    "created". A mutex also opens on first use by a work.
  get: its live state (as in tpmutex ls mutexes).
  close: close the service's handle; prints nothing (exit 1 with 409 while a work on it
    is unfinished).
  abandon: a dedicated thread acquires the mutex (waiting up to --acquire-timeout-ms)
    and exits owning it: the next acquirer, here or in any process, gets
    WAIT_ABANDONED. Prints the work id (the work with --json); --wait waits until it
    ended: exit 0 abandoned, 2 timed out (nothing abandoned), 3 cancelled.`,
  semaphore: `tpmutex semaphore open <name> [--initial-count N] [--maximum-count N]
tpmutex semaphore get <name>
tpmutex semaphore close <name>
  open: open or create the semaphore with its counts (defaults 1 and 1; an existing one
    keeps its own); prints its line and "created" or "existed"; --json: the semaphore
    with "created". Hold a unit with tpmutex hold --semaphore <name>.
  get: its live state: count (units available now, from the OS: units held by other
    processes are missing from it too), maximum, this service's holders.
  close: close the service's handle; prints nothing (exit 1 with 409 while a work on
    it is unfinished).`,
  event: `tpmutex event open <name> [--manual-reset] [--signaled]
tpmutex event get|set|reset <name>
tpmutex event close <name>
  open: open or create the event object: auto-reset unless --manual-reset, nonsignaled
    unless --signaled (an existing one keeps its own); prints its line and "created" or
    "existed"; --json: the event object with "created".
  get: its live state; set: SetEvent now; reset: ResetEvent now (each prints it as it
    is right after: an auto-reset event that released a waiter reads nonsignaled).
  close: close the service's handle; prints nothing (exit 1 with 409 while a work that
    sets it on return is unfinished).
  There is no wait on an event object: the service has none (a wait would consume an
  auto-reset event). Follow its sets with tpmutex watch --event <name> --type
  event-object.set, or have a work set it on return (--set-event) and tpmutex wait on
  that work.`,
};
COMMAND_HELP['event-object'] = COMMAND_HELP['event']!;

export function commandHelp(command: string): string {
  return `${COMMAND_HELP[command] ?? ''}\n\n${COMMON}\n\n${EXIT_CODES}\n`;
}

export function mainHelp(): string {
  return `tpmutex: named Windows mutexes held by thread-pool callbacks, over HTTP.

Usage:
  tpmutex [serve]                       run the service
  tpmutex hold <name> [options] -- <command> [args…]
                                        run a command while holding a mutex
  tpmutex hold --semaphore <name> [options] -- <command> [args…]
                                        … while holding a unit of a semaphore
  tpmutex hold <name> [options]         hold a mutex; prints the work id once held
  tpmutex keepalive <id>                renew a work's lease
  tpmutex submit [options]              submit a work (the full request)
  tpmutex signal <id>                   end a hold now
  tpmutex cancel <id>                   cancel a work
  tpmutex wait <id> [--timeout-ms N]    wait until a work ended
  tpmutex get <id>                      one work
  tpmutex ls work|mutexes|semaphores|events
                                        lists
  tpmutex mutex open|get|close|abandon <name>
                                        a mutex; abandon it on cue
  tpmutex semaphore open|get|close <name> [--initial-count N] [--maximum-count N]
                                        a semaphore
  tpmutex event open|get|set|reset|close <name> [--manual-reset] [--signaled]
                                        an event object
  tpmutex watch [--mutex N] [--type T]  live events
  tpmutex status                        the service's status

Run tpmutex <command> --help for a command's options.

${COMMON}

${EXIT_CODES}
`;
}
