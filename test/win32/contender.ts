/**
 * An external contender for the cross-process suite: a second Windows process that
 * opens the same named objects as the service (mutexes, semaphores, events) and works
 * them on command. Runs in node.exe (natively, or under Wine in the same WINEPREFIX as
 * the service, so both share one wineserver and one namespace of named objects).
 *
 *   node.exe dist/test/win32/contender.js <port-file>
 *
 * It listens on 127.0.0.1 (any free port, written to <port-file> once listening) and
 * answers JSON. It can hold several objects at once, by name; `name` may be left out to
 * mean the object opened last (so the one-mutex calls of earlier suites keep working).
 * Errors: 409 { error, code, fn } for a Win32 failure or a call that does not fit the
 * object (e.g. /wait on a mutex), 404 for an unknown route.
 *
 *   POST /open?name=N[&sddl=S]   mutex: CreateMutexExW (opens or creates) → { existed };
 *                                with sddl, creates it with that security descriptor,
 *                                as another account would (restricted-mutex.ts)
 *   POST /open?kind=semaphore&name=N&initial=I&maximum=M
 *                                CreateSemaphoreExW → { existed } (an existing one
 *                                keeps its own counts)
 *   POST /open?kind=event&name=N&manualReset=0|1&initialState=0|1
 *                                CreateEventExW → { existed }
 *   POST /acquire?[name=N&]timeoutMs=T
 *                                mutex: wait → { result: acquired | abandoned | timeout }
 *                                (abandoned = WAIT_ABANDONED: the previous owner died
 *                                owning it; this process owns it now);
 *                                semaphore: take one unit → { result: acquired | timeout }
 *   POST /release?[name=N]       mutex: ReleaseMutex → { released: true } (409 when not owner);
 *                                semaphore: ReleaseSemaphore(1) → { released: true,
 *                                previousCount } (409 above the maximum)
 *   POST /wait?[name=N&]timeoutMs=T[&then=M]
 *                                event: wait → { result: signaled | timeout } (an
 *                                auto-reset event is reset by the wait, as in the OS);
 *                                with then=M (an open mutex), once signaled it tries M
 *                                with timeout 0 in the same turn, before answering →
 *                                { result: signaled, then: acquired | abandoned | timeout }
 *                                (what an app woken by the event finds: docs/design.md §1.3)
 *   POST /set?[name=N]           event: SetEvent → { set: true }
 *   POST /reset?[name=N]         event: ResetEvent → { reset: true }
 *   GET  /probe?[name=N]         mutex: NtQueryMutant → { kind, currentCount, ownedByCaller, abandoned };
 *                                semaphore: NtQuerySemaphore → { kind, count, maximumCount };
 *                                event: NtQueryEvent → { kind, signaled, manualReset }
 *   GET  /status                 { pid, threadId, waiting, owned } (owned: mutex
 *                                ownerships plus semaphore units this process holds)
 *   POST /exit?code=C            exits at once (owning a mutex → it is abandoned; units
 *                                it holds are NOT given back: semaphores have no owner)
 *
 * Ownership belongs to a thread, so every wait and release runs on this process's main
 * thread: the wait is made in slices of at most 50 ms with the event loop turning in
 * between (so /status and /probe answer while it waits, and the handle stays open and
 * waiting the whole time — which is what WAIT_ABANDONED needs).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  CREATE_EVENT_INITIAL_SET, CREATE_EVENT_MANUAL_RESET, CreateMutexExW, CreateNamedEventExW, CreateSemaphoreExW,
  EVENT_LEAST_ACCESS, MUTEX_ALL_ACCESS, ResetEvent, SEMAPHORE_LEAST_ACCESS, SetEvent, WAIT_ABANDONED, WAIT_OBJECT_0,
  WAIT_TIMEOUT, type HANDLE,
} from '../../src/engine/win32/kernel32.js';
import { GetCurrentProcessId, GetCurrentThreadId, ReleaseMutex, ReleaseSemaphore, WaitForSingleObject } from './kernel32-for-tests.js';
import { NtQueryEvent, NtQueryMutant, NtQuerySemaphore } from '../../src/engine/win32/ntdll.js';
import { Win32Error } from '../../src/engine/win32/win32-error.js';
import { createRestrictedMutex } from './restricted-mutex.js';

const SLICE_MS = 50;

type ObjectKind = 'mutex' | 'semaphore' | 'event';
interface Held { readonly kind: ObjectKind; readonly handle: HANDLE }

const objects = new Map<string, Held>();
let last: string | undefined;
let waiting = false;
let owned = 0;

class Misuse extends Error {}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Waits on `handle` in slices (the event loop turns in between); the raw wait result, or WAIT_TIMEOUT. */
async function waitSliced(handle: HANDLE, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  waiting = true;
  try {
    for (;;) {
      const left = Math.max(0, deadline - Date.now());
      const result = WaitForSingleObject(handle, Math.min(SLICE_MS, left));
      if (result !== WAIT_TIMEOUT) return result;
      if (left === 0) return WAIT_TIMEOUT;
      await new Promise((r) => setImmediate(r)); // let /status and /probe answer
    }
  } finally {
    waiting = false;
  }
}

function objectOf(url: URL, ...kinds: ObjectKind[]): Held {
  return objectNamed(url.searchParams.get('name') ?? last, ...kinds);
}

function objectNamed(name: string | undefined, ...kinds: ObjectKind[]): Held {
  const held = name === undefined ? undefined : objects.get(name);
  if (held === undefined) throw new Misuse(`no object ${name ?? ''} open: POST /open first`);
  if (!kinds.includes(held.kind)) throw new Misuse(`${name} is a ${held.kind}; this call needs a ${kinds.join(' or ')}`);
  return held;
}

function open(url: URL): { existed: boolean } {
  const name = url.searchParams.get('name') ?? '';
  const kind = (url.searchParams.get('kind') ?? 'mutex') as ObjectKind;
  const flag = (key: string): boolean => url.searchParams.get(key) === '1' || url.searchParams.get(key) === 'true';
  let opened: { handle: HANDLE; lastError: number };
  if (kind === 'mutex') {
    const sddl = url.searchParams.get('sddl');
    opened = sddl !== null ? { handle: createRestrictedMutex(name, sddl), lastError: 0 } : CreateMutexExW(name, 0, MUTEX_ALL_ACCESS);
  } else if (kind === 'semaphore') {
    opened = CreateSemaphoreExW(name, Number(url.searchParams.get('initial') ?? '0'), Number(url.searchParams.get('maximum') ?? '1'), SEMAPHORE_LEAST_ACCESS);
  } else if (kind === 'event') {
    opened = CreateNamedEventExW(name, (flag('manualReset') ? CREATE_EVENT_MANUAL_RESET : 0) | (flag('initialState') ? CREATE_EVENT_INITIAL_SET : 0), EVENT_LEAST_ACCESS);
  } else {
    throw new Misuse(`kind must be mutex, semaphore or event, not ${String(kind)}`);
  }
  objects.set(name, { kind, handle: opened.handle });
  last = name;
  return { existed: opened.lastError === 183 };
}

/** A mutex or semaphore wait's result; counts what this process now holds. */
function acquired(result: number): 'acquired' | 'abandoned' | 'timeout' {
  if (result === WAIT_OBJECT_0) { owned++; return 'acquired'; }
  if (result === WAIT_ABANDONED) { owned++; return 'abandoned'; }
  if (result === WAIT_TIMEOUT) return 'timeout';
  throw new Error(`WaitForSingleObject returned ${result}`);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://contender');
  const route = `${req.method} ${url.pathname}`;
  const timeoutMs = Number(url.searchParams.get('timeoutMs') ?? '0');
  switch (route) {
    case 'GET /status':
      send(res, 200, { pid: GetCurrentProcessId(), threadId: GetCurrentThreadId(), waiting, owned });
      return;
    case 'POST /exit': {
      const code = Number(url.searchParams.get('code') ?? '0');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ exiting: code }), () => process.exit(code));
      return;
    }
    case 'POST /open':
      send(res, 200, open(url));
      return;
    case 'POST /acquire': {
      const held = objectOf(url, 'mutex', 'semaphore');
      send(res, 200, { result: acquired(await waitSliced(held.handle, timeoutMs)) });
      return;
    }
    case 'POST /release': {
      const held = objectOf(url, 'mutex', 'semaphore');
      if (held.kind === 'mutex') {
        ReleaseMutex(held.handle);
        owned--;
        send(res, 200, { released: true });
        return;
      }
      const previousCount = ReleaseSemaphore(held.handle, 1);
      owned = Math.max(0, owned - 1);
      send(res, 200, { released: true, previousCount });
      return;
    }
    case 'POST /wait': {
      const held = objectOf(url, 'event');
      const thenName = url.searchParams.get('then');
      const then = thenName === null ? undefined : objectNamed(thenName, 'mutex');
      const result = await waitSliced(held.handle, timeoutMs);
      if (result === WAIT_OBJECT_0 && then !== undefined) {
        // No await between the wake and the try: what the mutex is at the moment the event woke us.
        send(res, 200, { result: 'signaled', then: acquired(WaitForSingleObject(then.handle, 0)) });
        return;
      }
      if (result === WAIT_OBJECT_0) { send(res, 200, { result: 'signaled' }); return; }
      if (result === WAIT_TIMEOUT) { send(res, 200, { result: 'timeout' }); return; }
      throw new Error(`WaitForSingleObject returned ${result}`);
    }
    case 'POST /set':
      SetEvent(objectOf(url, 'event').handle);
      send(res, 200, { set: true });
      return;
    case 'POST /reset':
      ResetEvent(objectOf(url, 'event').handle);
      send(res, 200, { reset: true });
      return;
    case 'GET /probe': {
      const held = objectOf(url, 'mutex', 'semaphore', 'event');
      if (held.kind === 'mutex') {
        const info = NtQueryMutant(held.handle);
        send(res, 200, { kind: 'mutex', currentCount: info.CurrentCount, ownedByCaller: info.OwnedByCaller, abandoned: info.AbandonedState });
      } else if (held.kind === 'semaphore') {
        const info = NtQuerySemaphore(held.handle);
        send(res, 200, { kind: 'semaphore', count: info.CurrentCount, maximumCount: info.MaximumCount });
      } else {
        const info = NtQueryEvent(held.handle);
        send(res, 200, { kind: 'event', signaled: info.EventState !== 0, manualReset: info.EventType === 0 });
      }
      return;
    }
    default:
      send(res, 404, { error: `no route ${route}` });
  }
}

const portFile = process.argv[2];
if (portFile === undefined) {
  console.error('usage: contender.js <port-file>');
  process.exit(2);
}
const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    const status = err instanceof Win32Error || err instanceof Misuse ? 409 : 500;
    send(res, status, { error: (err as Error).message, ...(err instanceof Win32Error ? { code: err.code, fn: err.fn } : {}) });
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  writeFileSync(portFile, String(port));
  console.log(`contender pid ${GetCurrentProcessId()} listening on ${port}`);
});
