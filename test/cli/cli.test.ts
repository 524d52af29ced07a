/**
 * The built `tpmutex` binary end to end: the service started as `tpmutex serve` (with
 * tokens on), every client command run as a child process the way a harness script
 * runs it, and the exit codes a script branches on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.js';
import type { EventObject, Mutex, Semaphore, Work } from '../../src/client/index.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TOKEN = 'cli-test-token-0123456789abcdef';
let server: ServerProcess;
let unique = 0;
const name = (what: string) => `Local\\cli-${what}-${process.pid}-${++unique}`;

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs `tpmutex <args>` against the test service (TPMUTEX_URL / TPMUTEX_TOKEN in its environment). */
function tpmutex(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> & { child: ReturnType<typeof spawn> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, TPMUTEX_URL: server.baseUrl, TPMUTEX_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return Object.assign(done, { child });
}

/** Exactly one line on stderr, matching `pattern`. */
function oneErrorLine(run: Run, pattern: RegExp): void {
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one stderr line, got:\n${run.stderr}`);
  assert.match(lines[0]!, pattern);
}

const json = <T>(run: Run): T => {
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as T;
};

before(async () => {
  server = await startServer({ ENGINE: 'emulated', API_TOKENS: TOKEN, MAX_EVENT_LOOP_DELAY_MS: '0', POOL_MIN_THREADS: '2' }, { entry: [CLI, 'serve'] });
});
after(async () => {
  assert.equal(await server.stop(), 0, server.logs.slice(-20).join('\n'));
});

describe('tpmutex hold', () => {
  it('returns once the work holds the mutex, printing its id; signal releases it', async () => {
    const mutex = name('hold');
    const held = await tpmutex(['hold', mutex, '--label', 'cli']);
    assert.equal(held.code, EXIT.ok, held.stderr);
    const id = held.stdout.trim();
    assert.match(id, /^\S+$/);
    assert.equal(json<Work>(await tpmutex(['get', id, '--json'])).state, 'holding');
    const mutexes = await tpmutex(['ls', 'mutexes']);
    assert.ok(mutexes.stdout.split('\n').some((line) => line.startsWith(`${mutex} held holder=${id} `)), mutexes.stdout);

    assert.equal((await tpmutex(['signal', id])).code, EXIT.ok);
    const waited = await tpmutex(['wait', id]);
    assert.equal(waited.code, EXIT.ok, waited.stderr);
    assert.match(waited.stdout, new RegExp(`^${id.replace('.', '\\.')} released `));
  });

  it('exits 2 when the acquire times out, with one line on stderr', async () => {
    const mutex = name('timeout');
    const id = (await tpmutex(['hold', mutex])).stdout.trim();
    try {
      const contender = await tpmutex(['hold', mutex, '--acquire-timeout-ms', '100']);
      assert.equal(contender.code, EXIT.timedOut);
      oneErrorLine(contender, /ended timed_out/);
      const waitedTooLittle = await tpmutex(['wait', id, '--timeout-ms', '100']);
      assert.equal(waitedTooLittle.code, EXIT.timedOut);
      oneErrorLine(waitedTooLittle, /still holding/);
    } finally {
      await tpmutex(['signal', id]);
    }
  });

  it('exits 3 when the waiting hold is cancelled', async () => {
    const mutex = name('cancel');
    const id = (await tpmutex(['hold', mutex])).stdout.trim();
    try {
      const contender = tpmutex(['hold', mutex, '--json']);
      let waiting: Work | undefined;
      while (waiting === undefined) {
        [waiting] = json<Work[]>(await tpmutex(['ls', 'work', '--mutex', mutex, '--state', 'waiting', '--json']));
      }
      const cancelled = await tpmutex(['cancel', waiting.id, '--json']);
      assert.equal(json<Work>(cancelled).cancelRequested, true);
      const run = await contender;
      assert.equal(run.code, EXIT.cancelled, run.stderr);
      assert.equal(JSON.parse(run.stdout).state, 'cancelled');
      oneErrorLine(run, /ended cancelled/);
    } finally {
      await tpmutex(['signal', id]);
    }
  });

  it('with --wait returns when the hold ended, with its outcome', async () => {
    const run = await tpmutex(['hold', name('wait'), '--hold-ms', '20', '--wait', '--json']);
    const work = json<Work>(run);
    assert.equal(work.state, 'released');
    assert.equal(work.request.holdMs, 20);
    assert.equal(work.request.untilSignaled, false);
  });
});

/**
 * A command for `hold … --`: prints `running`, then waits until the file `release`
 * names exists (at most a minute) and exits with `code`.
 */
function commandScript(release: string, code: number): string[] {
  return ['node', '-e', `
    const fs = require('node:fs');
    process.stdout.write('running\\n');
    const until = Date.now() + 60000;
    const poll = setInterval(() => {
      if (fs.existsSync(${JSON.stringify(release)}) || Date.now() > until) { clearInterval(poll); process.exit(${code}); }
    }, 20);
  `];
}

/** Resolves once the child printed `line` on stdout. */
function printed(child: ReturnType<typeof spawn>, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (l) => { if (l === line) { lines.close(); resolve(); } });
    child.once('exit', () => reject(new Error(`exited before printing ${line}`)));
  });
}

/** Submits a contender over HTTP and waits for its end (the CLI's own token). */
async function contend(mutex: string, acquireTimeoutMs: number): Promise<Work> {
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const submitted = await (await fetch(`${server.baseUrl}/v1/work`, { method: 'POST', headers, body: JSON.stringify({ mutex, acquireTimeoutMs }) })).json() as Work;
  return await (await fetch(`${server.baseUrl}/v1/work/${encodeURIComponent(submitted.id)}?wait=terminal&timeoutMs=60000`, { headers })).json() as Work;
}

describe('tpmutex hold <name> -- <command>', () => {
  const releaseFile = (what: string) => join(tmp, `${what}-${++unique}`);
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'tpmutex-cli-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('runs the command while holding: a contender times out during it and acquires after; the exit code passes through', async () => {
    const mutex = name('cmd');
    const release = releaseFile('cmd');
    const run = tpmutex(['hold', mutex, '--lease-ms', '5000', '--', ...commandScript(release, 7)]);
    await printed(run.child, 'running');
    const during = await contend(mutex, 200);
    assert.equal(during.state, 'timed_out', 'the mutex is held while the command runs');
    writeFileSync(release, '');
    const done = await run;
    assert.equal(done.code, 7, done.stderr);
    const afterwards = await contend(mutex, 0);
    assert.equal(afterwards.state, 'released', 'free once the command exited');
    const [held] = json<Work[]>(await tpmutex(['ls', 'work', '--mutex', mutex, '--json']));
    assert.equal(held!.state, 'released');
    assert.equal(held!.leaseMs, 5000);
    assert.equal(held!.leaseExpired, false);
    assert.equal(held!.signaled, true);
  });

  it('exits 0 with a command that succeeds, and 2 without running it when the acquire times out', async () => {
    const mutex = name('cmd-ok');
    const ok = await tpmutex(['--url', server.baseUrl, 'hold', mutex, '--', 'node', '-e', 'process.exit(0)']);
    assert.equal(ok.code, EXIT.ok, ok.stderr);
    const holder = (await tpmutex(['hold', mutex])).stdout.trim();
    try {
      const marker = releaseFile('never');
      const blocked = await tpmutex(['hold', mutex, '--acquire-timeout-ms', '100', '--', 'node', '-e', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, '')`]);
      assert.equal(blocked.code, EXIT.timedOut, blocked.stderr);
      assert.equal(existsSync(marker), false, 'the command did not run');
    } finally {
      await tpmutex(['signal', holder]);
    }
  });

  it('SIGTERM ends the command and the hold; SIGKILL leaves the hold to its lease', async () => {
    const mutex = name('cmd-term');
    const release = releaseFile('term');
    const term = tpmutex(['hold', mutex, '--', ...commandScript(release, 0)]);
    await printed(term.child, 'running');
    term.child.kill('SIGTERM');
    const termed = await term;
    assert.equal(termed.code, 128 + 15, termed.stderr);
    assert.equal((await contend(mutex, 60_000)).state, 'released');

    const killMutex = name('cmd-kill');
    const kill = tpmutex(['hold', killMutex, '--lease-ms', '1000', '--', ...commandScript(release, 0)]);
    await printed(kill.child, 'running');
    kill.child.kill('SIGKILL');
    await kill;
    const killed = Date.now();
    const next = await contend(killMutex, 60_000);
    writeFileSync(release, '');
    assert.equal(next.state, 'released', JSON.stringify(next));
    assert.ok(Date.now() - killed < 1000 + 30_000);
    const [first] = json<Work[]>(await tpmutex(['ls', 'work', '--mutex', killMutex, '--json']));
    assert.equal(first!.leaseExpired, true);
  });

  it('hold --wait renews its lease while it waits', async () => {
    const mutex = name('wait-lease');
    const run = tpmutex(['hold', mutex, '--lease-ms', '1000', '--wait', '--label', 'wait-lease']);
    let held: Work | undefined;
    while (held === undefined) [held] = json<Work[]>(await tpmutex(['ls', 'work', '--mutex', mutex, '--state', 'holding', '--json']));
    // Outlive several leases: only the waiting tpmutex keeps it held.
    const until = Date.now() + 3500;
    while (Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(json<Work>(await tpmutex(['get', held.id, '--json'])).state, 'holding');
    await tpmutex(['signal', held.id]);
    const done = await run;
    assert.equal(done.code, EXIT.ok, done.stderr);
    assert.equal(json<Work>(await tpmutex(['get', held.id, '--json'])).leaseExpired, false);
  });

  it('keepalive renews a lease from the command line', async () => {
    const mutex = name('keepalive');
    const id = (await tpmutex(['hold', mutex, '--lease-ms', '60000'])).stdout.trim();
    const renewed = json<Work>(await tpmutex(['keepalive', id, '--lease-ms', '120000', '--json']));
    assert.equal(renewed.leaseMs, 120000);
    await tpmutex(['signal', id]);
    await tpmutex(['wait', id]);
    const late = await tpmutex(['keepalive', id]);
    assert.equal(late.code, EXIT.error);
    oneErrorLine(late, /409 work-finished/);
  });
});

describe('tpmutex submit, get, ls, status', () => {
  it('submits the full request from flags or --body, idempotently', async () => {
    const mutex = name('submit');
    const flags = ['submit', '--mutex', mutex, '--acquire-timeout-ms', '5000', '--hold-ms', '10', '--spin-ms', '1', '--may-run-long', '--label', 'flags', '--idempotency-key', `k-${mutex}`];
    const first = await tpmutex(flags);
    assert.equal(first.code, EXIT.ok, first.stderr);
    assert.equal((await tpmutex(flags)).stdout, first.stdout, 'the same key gives the same work');
    const ended = json<Work>(await tpmutex(['wait', first.stdout.trim(), '--json']));
    assert.deepEqual(ended.request, { acquireTimeoutMs: 5000, holdMs: 10, untilSignaled: false, spinMs: 1, mayRunLong: true, leaseMs: null });
    assert.equal(ended.label, 'flags');

    const body = json<Work>(await tpmutex(['submit', '--body', JSON.stringify({ mutex, holdMs: 5 }), '--wait', '--json']));
    assert.equal(body.state, 'released');
    const labelled = json<Work[]>(await tpmutex(['ls', 'work', '--mutex', mutex, '--label', 'flags', '--json']));
    assert.deepEqual(labelled.map((w) => w.id), [ended.id]);
  });

  it('exits 1 with the service\'s problem on one line', async () => {
    const invalid = await tpmutex(['submit', '--body', JSON.stringify({ mutex: name('bad'), holdMs: -1 })]);
    assert.equal(invalid.code, EXIT.error);
    oneErrorLine(invalid, /^tpmutex: 400 validation: /);
    const missing = await tpmutex(['get', 'no-such-work']);
    assert.equal(missing.code, EXIT.error);
    oneErrorLine(missing, /^tpmutex: 404 work-not-found: /);
    const noToken = await tpmutex(['status'], { TPMUTEX_TOKEN: undefined });
    assert.equal(noToken.code, EXIT.error);
    oneErrorLine(noToken, /^tpmutex: 401 unauthorized: /);
    const flagToken = await tpmutex(['status', '--token', TOKEN], { TPMUTEX_TOKEN: undefined });
    assert.equal(flagToken.code, EXIT.ok, flagToken.stderr);
  });

  it('prints the status as lines, or JSON', async () => {
    const text = await tpmutex(['status']);
    assert.equal(text.code, EXIT.ok, text.stderr);
    assert.match(text.stdout, /^status ready, boot \S+, engine emulated/);
    assert.equal(json<{ status: string }>(await tpmutex(['--json', 'status'])).status, 'ready');
  });
});

describe('tpmutex hold --semaphore', () => {
  let tmp: string;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'tpmutex-cli-sem-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('runs at most maximumCount commands at once: a third times out without running; the exit codes pass through', async () => {
    const sem = name('sem-cmd');
    const opened = await tpmutex(['semaphore', 'open', sem, '--initial-count', '2', '--maximum-count', '2']);
    assert.equal(opened.code, EXIT.ok, opened.stderr);
    assert.equal(opened.stdout, `${sem} count=2/2 holders=- waiting=0 queued=0 created\n`);
    const release = join(tmp, `release-${++unique}`);
    const runs = [tpmutex(['hold', '--semaphore', sem, '--', ...commandScript(release, 7)]), tpmutex(['hold', '--semaphore', sem, '--lease-ms', '5000', '--', ...commandScript(release, 0)])];
    await Promise.all(runs.map((run) => printed(run.child, 'running')));
    const marker = join(tmp, `never-${++unique}`);
    const third = await tpmutex(['hold', '--semaphore', sem, '--acquire-timeout-ms', '100', '--', 'node', '-e', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, '')`]);
    assert.equal(third.code, EXIT.timedOut, third.stderr);
    oneErrorLine(third, new RegExp(`on ${sem.replaceAll('\\', '\\\\')} ended timed_out`));
    assert.equal(existsSync(marker), false, 'the third command did not run');
    const full = json<Semaphore>(await tpmutex(['semaphore', 'get', sem, '--json']));
    assert.deepEqual([full.count, full.holders.length], [0, 2]);

    writeFileSync(release, '');
    assert.deepEqual((await Promise.all(runs)).map((run) => run.code).sort(), [0, 7]);
    const works = json<Work[]>(await tpmutex(['ls', 'work', '--semaphore', sem, '--json']));
    assert.deepEqual(works.map((w) => w.state).sort(), ['released', 'released', 'timed_out']);
    assert.deepEqual(works.filter((w) => w.state === 'released').map((w) => [w.resource?.kind, w.leaseExpired, w.signaled]), [['semaphore', false, true], ['semaphore', false, true]]);
    assert.deepEqual(works.filter((w) => w.state === 'released').map((w) => w.leaseMs ?? 0).sort((a, b) => a - b), [5000, 30000]);
    assert.equal(json<Semaphore>(await tpmutex(['semaphore', 'get', sem, '--json'])).count, 2, 'both units are back');
  });

  it('without a command holds a unit until signalled; the hold can set an event on return', async () => {
    const sem = name('sem-hold');
    const ev = name('sem-ev');
    assert.equal((await tpmutex(['semaphore', 'open', sem])).code, EXIT.ok);
    assert.equal((await tpmutex(['event', 'open', ev])).code, EXIT.ok);
    const held = await tpmutex(['hold', '--semaphore', sem, '--set-event', ev, '--label', 'sem-hold']);
    assert.equal(held.code, EXIT.ok, held.stderr);
    const id = held.stdout.trim();
    const listed = await tpmutex(['ls', 'semaphores']);
    assert.ok(listed.stdout.split('\n').includes(`${sem} count=0/1 holders=${id} waiting=0 queued=0`), listed.stdout);
    const status = await tpmutex(['status']);
    assert.ok(status.stdout.split('\n').includes(`  ${sem} 1 of 1 units held here (0 waiting)`), status.stdout);
    assert.match(status.stdout, /^event objects: \d+ open, \d+ unfinished works set one on return$/m);
    assert.equal(json<EventObject>(await tpmutex(['event', 'get', ev, '--json'])).signaled, false);

    assert.equal((await tpmutex(['signal', id])).code, EXIT.ok);
    const waited = await tpmutex(['wait', id, '--json']);
    assert.deepEqual(json<Work>(waited).actions, ['set_event', 'release_semaphore']);
    assert.equal((await tpmutex(['event', 'get', ev])).stdout, `${ev} signaled auto-reset pending-setters=0\n`);
    for (const close of [['semaphore', 'close', sem], ['event', 'close', ev]]) {
      const closed = await tpmutex(close);
      assert.equal(closed.code, EXIT.ok, closed.stderr);
      assert.equal(closed.stdout, '');
    }
    const gone = await tpmutex(['hold', '--semaphore', sem]);
    assert.equal(gone.code, EXIT.error);
    oneErrorLine(gone, /^tpmutex: 404 object-not-open: /);
  });
});

describe('tpmutex mutex, semaphore, event', () => {
  it('opens (created, then existed), reads, sets, resets, lists and closes an event object', async () => {
    const ev = name('event');
    const created = await tpmutex(['event', 'open', ev, '--manual-reset']);
    assert.equal(created.stdout, `${ev} nonsignaled manual-reset pending-setters=0 created\n`, created.stderr);
    const existed = json<EventObject & { created: boolean }>(await tpmutex(['--json', 'event', 'open', ev, '--signaled']));
    assert.deepEqual([existed.created, existed.existed, existed.signaled, existed.manualReset], [false, true, false, true]);
    assert.equal((await tpmutex(['event', 'set', ev])).stdout, `${ev} signaled manual-reset pending-setters=0\n`);
    assert.equal(json<EventObject>(await tpmutex(['event', 'reset', ev, '--json'])).signaled, false);
    const submitted = json<Work>(await tpmutex(['submit', '--set-event', ev, '--hold-ms', '1', '--wait', '--json']));
    assert.deepEqual([submitted.state, submitted.actions], ['released', ['set_event']]);
    const events = json<EventObject[]>(await tpmutex(['ls', 'events', '--json']));
    assert.equal(events.find((e) => e.name === ev)?.signaled, true);
    assert.equal((await tpmutex(['event', 'close', ev])).code, EXIT.ok);
    const gone = await tpmutex(['event', 'get', ev]);
    assert.equal(gone.code, EXIT.error);
    oneErrorLine(gone, /^tpmutex: 404 object-not-open: /);
    const conflict = await tpmutex(['semaphore', 'open', name('conflict'), '--initial-count', '3', '--maximum-count', '2']);
    assert.equal(conflict.code, EXIT.error);
    oneErrorLine(conflict, /^tpmutex: 400 validation: /);
  });

  it('opens, reads and closes a mutex, and abandons it on cue: the next hold exits 5', async () => {
    const mutex = name('mutex');
    assert.equal((await tpmutex(['mutex', 'open', mutex])).stdout, `${mutex} free holder=- waiting=0 queued=0 token=0 created\n`);
    assert.equal(json<Mutex & { created: boolean }>(await tpmutex(['mutex', 'open', mutex, '--json'])).created, false);
    assert.equal(json<Mutex>(await tpmutex(['mutex', 'get', mutex, '--json'])).state, 'free');

    const abandoned = await tpmutex(['mutex', 'abandon', mutex, '--acquire-timeout-ms', '10000', '--label', 'cue', '--wait']);
    assert.equal(abandoned.code, EXIT.ok, abandoned.stderr);
    assert.match(abandoned.stdout, /^\S+ abandoned /);
    assert.equal(json<Mutex>(await tpmutex(['mutex', 'get', mutex, '--json'])).state, 'abandoned');
    const next = await tpmutex(['hold', mutex, '--hold-ms', '1', '--wait', '--json']);
    assert.equal(next.code, EXIT.abandoned);
    assert.equal(JSON.parse(next.stdout).abandoned, true);
    oneErrorLine(next, /acquired the mutex abandoned/);

    const key = `abandon-${mutex}`;
    const id = await tpmutex(['mutex', 'abandon', mutex, '--idempotency-key', key]);
    assert.equal(id.code, EXIT.ok, id.stderr);
    assert.equal((await tpmutex(['mutex', 'abandon', mutex, '--idempotency-key', key])).stdout, id.stdout, 'the same key gives the same work');
    assert.equal((await tpmutex(['wait', id.stdout.trim()])).code, EXIT.ok);
    await tpmutex(['submit', '--mutex', mutex, '--wait']);
    const closed = await tpmutex(['mutex', 'close', mutex]);
    assert.equal(closed.code, EXIT.ok, closed.stderr);
    assert.equal(closed.stdout, '');
    assert.equal((await tpmutex(['mutex', 'get', mutex])).code, EXIT.error);
  });
});

describe('tpmutex watch', () => {
  it('prints NDJSON when stdout is not a terminal, and ends on SIGINT with 0', async () => {
    const mutex = name('watch');
    const lastSeq = json<{ events: { lastSeq: number } }>(await tpmutex(['status', '--json'])).events.lastSeq;
    const watching = tpmutex(['watch', '--mutex', mutex, '--type', 'mutex.opened,work.acquired', '--type', 'work.released', '--after', String(lastSeq)]);
    const types: string[] = [];
    const lines = createInterface({ input: watching.child.stdout! });
    const submitted = tpmutex(['submit', '--mutex', mutex, '--wait']);
    for await (const line of lines) {
      const frame = JSON.parse(line) as { type: string; id: string };
      assert.match(frame.id, /^\S+-\d+$/);
      types.push(frame.type);
      if (frame.type === 'work.released') break;
    }
    assert.equal((await submitted).code, EXIT.ok);
    watching.child.kill('SIGINT');
    const run = await watching;
    assert.equal(run.code, EXIT.ok, run.stderr);
    assert.deepEqual(types, ['mutex.opened', 'work.acquired', 'work.released']);
  });
});

describe('tpmutex usage', () => {
  it('exits 1 with one line when the service cannot be reached', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const run = await tpmutex(['--url', `http://127.0.0.1:${port}`, 'status']);
    assert.equal(run.code, EXIT.error);
    oneErrorLine(run, new RegExp(`^tpmutex: cannot reach http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.equal(run.stdout, '');
  });

  it('exits 1 with one line for a command line it cannot run', async () => {
    for (const [args, pattern] of [
      [['frobnicate'], /unknown command "frobnicate" \(see tpmutex --help\)$/],
      [['hold'], /hold takes <name>, got none/],
      [['hold', 'x', '--hold-ms', 'soon'], /--hold-ms takes a non-negative integer/],
      [['wait', 'x', '--colour'], /Unknown option '--colour'/],
      [['ls', 'threads'], /ls lists work, mutexes, semaphores or events, not "threads"/],
      [['ls', 'semaphores', '--state', 'holding'], /--state filters works, not semaphores/],
      [['submit', '--hold-ms', '5'], /submit needs --mutex <name>, --semaphore <name> or --set-event <name>/],
      [['hold', '--mutex', 'a', '--semaphore', 'b'], /hold takes --mutex or --semaphore, not both/],
      [['hold', 'a', '--semaphore', 'b'], /hold takes its name once/],
      [['semaphore'], /semaphore takes a verb: open, get, close \(see tpmutex semaphore --help\)$/],
      [['event', 'wait', 'x'], /event takes open, get, set, reset, close, not "wait"/],
      [['semaphore', 'open', 'x', '--maximum-count', 'many'], /--maximum-count takes a non-negative integer \(units\)/],
      [['mutex', 'open'], /mutex open takes <name>, got none/],
      [['watch', '--mutex', 'a', '--event', 'b'], /watch follows one object: --mutex or --event/],
      [['serve', '--port', '1'], /serve takes no arguments/],
    ] as const) {
      const run = await tpmutex([...args]);
      assert.equal(run.code, EXIT.error, args.join(' '));
      oneErrorLine(run, pattern);
    }
  });

  it('prints help for the binary and for each command', async () => {
    const main = await tpmutex(['--help']);
    assert.equal(main.code, EXIT.ok);
    for (const command of ['serve', 'hold', 'submit', 'signal', 'cancel', 'wait', 'get', 'ls', 'watch', 'status', 'mutex', 'semaphore', 'event']) assert.match(main.stdout, new RegExp(`tpmutex ${command === 'serve' ? '\\[serve\\]' : command}`));
    assert.match(main.stdout, /Exit codes: 0 released or OK, 2 timed out, 3 cancelled, 4 failed,/);
    const hold = await tpmutex(['hold', '--help']);
    assert.equal(hold.code, EXIT.ok);
    assert.match(hold.stdout, /--acquire-timeout-ms N/);
    assert.match(hold.stdout, /tpmutex hold --semaphore <name>/);
    for (const [args, pattern] of [
      [['semaphore', '--help'], /tpmutex semaphore open <name> \[--initial-count N\] \[--maximum-count N\]/],
      [['semaphore', 'open', '--help'], /tpmutex semaphore open <name>/],
      [['event', 'set', '-h'], /tpmutex event open <name> \[--manual-reset\] \[--signaled\]/],
      [['help', 'mutex'], /tpmutex mutex abandon <name>/],
    ] as const) {
      const run = await tpmutex([...args]);
      assert.equal(run.code, EXIT.ok, args.join(' '));
      assert.match(run.stdout, pattern, args.join(' '));
    }
  });

  it('serves when run bare', async () => {
    const bare = await startServer({ ENGINE: 'emulated' }, { entry: [CLI] });
    try {
      const live = await fetch(`${bare.baseUrl}/livez`);
      assert.equal(live.status, 200);
    } finally {
      assert.equal(await bare.stop(), 0);
    }
  });
});
