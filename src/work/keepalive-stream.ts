/**
 * POST /v1/work/{id}/keepalive?stream=true: the service renews a work's lease itself for
 * as long as the request stays open, for clients with no timer of their own (a shell,
 * PowerShell). The answer is NDJSON, one KeepaliveLine per line: `heartbeat` after each
 * renewal, `ended` with the work once it ended, then the stream closes. A client that
 * goes away stops the renewals; its lease then runs out leaseMs later (work/leases.ts).
 */
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { isTerminal } from '../schemas/work.js';
import { ServiceError } from '../service-error.js';
import type { WorkService } from './work-service.js';

/** Renew three times per lease: a renewal that comes late by up to two thirds of it still keeps the hold. */
const RENEWALS_PER_LEASE = 3;
/** Short leases renew no more often than this. */
const MIN_INTERVAL_MS = 30;
/** Long leases still get a line this often, so proxies and clients see the stream is alive. */
const MAX_INTERVAL_MS = 15_000;
/** Long-poll slice for the work's end; the loop waits again after it. */
const WAIT_SLICE_MS = 3_600_000;

/** The lease must have been renewed (work.keepalive) before: the first line reports it. */
export function streamKeepalive(work: WorkService, id: string, res: ServerResponse): PassThrough {
  const out = new PassThrough();
  const gone = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const line = (value: unknown) => { if (!gone.signal.aborted) out.write(`${JSON.stringify(value)}\n`); };
  const end = () => {
    if (gone.signal.aborted) return;
    // The work may have left the history already (a tiny WORK_HISTORY): then no last line.
    try { line({ type: 'ended', work: work.get(id) }); } catch { /* evicted */ }
    stop();
    out.end();
  };
  const stop = () => {
    gone.abort();
    clearTimeout(timer);
  };
  const heartbeat = () => {
    let view;
    try { view = work.get(id); } catch { return end(); }
    if (isTerminal(view.state) || view.leaseMs === null || view.leaseExpiresAt === null || view.leaseExpiresAtNs === null) return end();
    line({ type: 'heartbeat', workId: id, state: view.state, leaseMs: view.leaseMs, leaseExpiresAt: view.leaseExpiresAt, leaseExpiresAtNs: view.leaseExpiresAtNs });
    timer = setTimeout(renew, Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.floor(view.leaseMs / RENEWALS_PER_LEASE))));
  };
  const renew = () => {
    if (gone.signal.aborted) return;
    try {
      work.keepalive(id, undefined);
    } catch (err) {
      // The work ended or its lease ran out (a stalled event loop): say how it ended.
      // Anything else must not escape a timer (it would take the process down).
      if (err instanceof ServiceError) return end();
      stop();
      out.destroy(err as Error);
      return;
    }
    heartbeat();
  };
  // The client went away (or the answer finished): stop renewing.
  res.once('close', stop);
  out.once('close', stop);
  void (async () => {
    while (!gone.signal.aborted && !isTerminal(work.require(id).state)) await work.waitTerminal(id, WAIT_SLICE_MS, gone.signal);
    end();
  })().catch(() => { stop(); out.destroy(); });
  heartbeat();
  return out;
}
