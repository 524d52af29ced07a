/**
 * An external contender for the cross-process suite: a second Windows process that
 * opens the same named mutex as the service and takes/releases it on command. Runs in
 * node.exe (natively, or under Wine in the same WINEPREFIX as the service, so both
 * share one wineserver and one namespace of named objects).
 *
 *   node.exe dist/test/win32/contender.js <port-file>
 *
 * It listens on 127.0.0.1 (any free port, written to <port-file> once listening) and
 * answers JSON:
 *   POST /open?name=N[&sddl=S]   CreateMutexExW (opens or creates) → { existed }; with
 *                                sddl, creates it with that security descriptor, as
 *                                another account would (restricted-mutex.ts)
 *   POST /acquire?timeoutMs=T    wait up to T ms → { result: acquired | abandoned | timeout }
 *   POST /release                ReleaseMutex → { released: true } (409 when not owner)
 *   GET  /probe                  NtQueryMutant → { currentCount, ownedByCaller, abandoned }
 *   GET  /status                 { pid, threadId, waiting, owned }
 *   POST /exit?code=C            exits at once (owning the mutex → it is abandoned)
 *
 * Ownership belongs to a thread, so every wait and release runs on this process's main
 * thread: the wait is made in slices of at most 50 ms with the event loop turning in
 * between (so /status and /probe answer while it waits, and the handle stays open and
 * waiting the whole time — which is what WAIT_ABANDONED needs).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { CreateMutexExW, MUTEX_ALL_ACCESS, WAIT_ABANDONED, WAIT_OBJECT_0, WAIT_TIMEOUT, type HANDLE } from '../../src/engine/win32/kernel32.js';
import { GetCurrentProcessId, GetCurrentThreadId, ReleaseMutex, WaitForSingleObject } from './kernel32-for-tests.js';
import { NtQueryMutant } from '../../src/engine/win32/ntdll.js';
import { Win32Error } from '../../src/engine/win32/win32-error.js';
import { createRestrictedMutex } from './restricted-mutex.js';

const SLICE_MS = 50;

let mutex: HANDLE | undefined;
let waiting = false;
let owned = 0;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function acquire(timeoutMs: number): Promise<'acquired' | 'abandoned' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  waiting = true;
  try {
    for (;;) {
      const left = Math.max(0, deadline - Date.now());
      const result = WaitForSingleObject(mutex!, Math.min(SLICE_MS, left));
      if (result === WAIT_OBJECT_0) { owned++; return 'acquired'; }
      if (result === WAIT_ABANDONED) { owned++; return 'abandoned'; }
      if (result !== WAIT_TIMEOUT) throw new Error(`WaitForSingleObject returned ${result}`);
      if (left === 0) return 'timeout';
      await new Promise((r) => setImmediate(r)); // let /status and /probe answer
    }
  } finally {
    waiting = false;
  }
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://contender');
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /status') {
    send(res, 200, { pid: GetCurrentProcessId(), threadId: GetCurrentThreadId(), waiting, owned });
    return;
  }
  if (route === 'POST /exit') {
    const code = Number(url.searchParams.get('code') ?? '0');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ exiting: code }), () => process.exit(code));
    return;
  }
  if (route === 'POST /open') {
    const sddl = url.searchParams.get('sddl');
    if (sddl !== null) {
      mutex = createRestrictedMutex(url.searchParams.get('name') ?? '', sddl);
      send(res, 200, { existed: false });
      return;
    }
    const opened = CreateMutexExW(url.searchParams.get('name') ?? '', 0, MUTEX_ALL_ACCESS);
    mutex = opened.handle;
    send(res, 200, { existed: opened.lastError === 183 });
    return;
  }
  if (mutex === undefined) { send(res, 409, { error: 'no mutex open: POST /open first' }); return; }
  if (route === 'POST /acquire') {
    send(res, 200, { result: await acquire(Number(url.searchParams.get('timeoutMs') ?? '0')) });
    return;
  }
  if (route === 'POST /release') {
    ReleaseMutex(mutex);
    owned--;
    send(res, 200, { released: true });
    return;
  }
  if (route === 'GET /probe') {
    const info = NtQueryMutant(mutex);
    send(res, 200, { currentCount: info.CurrentCount, ownedByCaller: info.OwnedByCaller, abandoned: info.AbandonedState });
    return;
  }
  send(res, 404, { error: `no route ${route}` });
}

const portFile = process.argv[2];
if (portFile === undefined) {
  console.error('usage: contender.js <port-file>');
  process.exit(2);
}
const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    const status = err instanceof Win32Error ? 409 : 500;
    send(res, status, { error: (err as Error).message, ...(err instanceof Win32Error ? { code: err.code, fn: err.fn } : {}) });
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  writeFileSync(portFile, String(port));
  console.log(`contender pid ${GetCurrentProcessId()} listening on ${port}`);
});
