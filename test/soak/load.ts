/**
 * The soak's mixed load through the HTTP API, each part a loop at its own pace:
 * holds on a few hot names (contention); try-once and timeouts on a held name; cancels
 * of queued, waiting, holding and finished works; signals before and during a hold;
 * idempotent replays and conflicts; mutexes opened, refused while busy, and deleted; a
 * few bad requests a second from the hostile suite's generator. Every work submitted is
 * entered in the ledger with the terminal states it may reach.
 */
import fc from 'fast-check';
import { hostileRequest } from '../e2e/hostile-requests.js';
import type { SoakClient } from './client.js';
import type { TerminalState, WorkLedger } from './work-ledger.js';

interface WorkRef { id: string; state: string }

const HOT_NAMES = 4;
/**
 * The acquire timeout of works that must not time out: far beyond any wait this load
 * makes, even on a machine so loaded that each request takes seconds.
 */
const PATIENT_MS = 120_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class MixedLoad {
  badInputs = 0;
  private running = true;
  private readonly loops: Promise<void>[] = [];
  /** Counters that make names and keys unique within the run. */
  private readonly serial = { held: 0, idempotency: 0, mutex: 0 };

  constructor(private readonly client: SoakClient, private readonly ledger: WorkLedger, private readonly tag: string) {}

  start(): void {
    this.every(50, () => this.hotHold()); // 20 works/s on 4 names
    this.every(1000, () => this.heldName(this.serial.held++ % 2));
    this.every(500, () => this.cancelQuick());
    this.every(2000, () => this.cancelHolding());
    this.every(15_000, () => this.cancelQueuedBurst());
    this.every(1000, () => this.idempotency());
    this.every(1000, () => this.mutexLifecycle());
    this.every(500, () => this.badInput());
    this.every(1000, () => this.reads());
  }

  /** Stops starting new steps and waits for those under way (each ends within seconds). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Runs `step` every `periodMs`, each in the background, at most 8 of one kind at once. */
  private every(periodMs: number, step: () => Promise<void>): void {
    const inFlight = new Set<Promise<void>>();
    this.loops.push((async () => {
      let next = Date.now();
      while (this.running) {
        if (inFlight.size < 8) {
          const p = step().catch((err: unknown) => { console.error(`soak step failed: ${(err as Error).stack ?? String(err)}`); }).finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
        next += periodMs;
        await sleep(Math.max(0, next - Date.now()));
      }
      await Promise.all(inFlight);
    })());
  }

  private name(kind: string, n: number | string): string {
    return `soak-${this.tag}-${kind}-${n}`;
  }

  /** POST /v1/work expecting 202 (acquireTimeoutMs PATIENT_MS unless the body says otherwise); enters the work in the ledger. */
  private async submit(body: Record<string, unknown>, allowed: readonly TerminalState[] = [], headers: Record<string, string> = {}): Promise<string | undefined> {
    const answer = await this.client.call('POST', '/v1/work', [202], { body: { acquireTimeoutMs: PATIENT_MS, ...body }, headers });
    if (answer?.status !== 202) return undefined;
    const work = JSON.parse(answer.text) as WorkRef;
    this.ledger.submitted(work.id, allowed);
    return work.id;
  }

  private path(id: string, suffix = ''): string {
    return `/v1/work/${encodeURIComponent(id)}${suffix}`;
  }

  /** Until the work is in `state` (true) or has gone past it (false). */
  private async reach(id: string, state: 'holding' | 'waiting'): Promise<boolean> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const answer = await this.client.call('GET', this.path(id), [200, 404]);
      if (answer?.status !== 200) return false;
      const now = (JSON.parse(answer.text) as WorkRef).state;
      if (now === state) return true;
      if (!['queued', 'waiting'].includes(now)) return false;
      await sleep(20);
    }
    return false;
  }

  /** Long-polls until the work is terminal (or evicted: then it was terminal). */
  private terminal(id: string): Promise<unknown> {
    return this.client.call('GET', this.path(id, '?wait=terminal&timeoutMs=30000'), [200, 404]);
  }

  private async hotHold(): Promise<void> {
    const n = Math.floor(Math.random() * HOT_NAMES);
    await this.submit({ mutex: this.name('hot', n), holdMs: Math.floor(Math.random() * 5) }, ['released']);
  }

  /**
   * A holder on a name, then behind it: a try-once and a short timeout (both time out),
   * a waiter that is cancelled, and one signalled before it acquires (it then ends its
   * hold as soon as it acquires). The holder is signalled; signal and cancel of it once
   * finished are refused.
   */
  private async heldName(k: number): Promise<void> {
    const mutex = this.name('held', k);
    const holder = await this.submit({ mutex, untilSignaled: true, holdMs: 60_000 }, ['released']);
    if (holder === undefined) return;
    if (await this.reach(holder, 'holding')) {
      const [tryOnce, shortWait, cancelled, early] = await Promise.all([
        this.submit({ mutex, acquireTimeoutMs: 0 }, ['timed_out']),
        this.submit({ mutex, acquireTimeoutMs: 50 }, ['timed_out']),
        this.submit({ mutex }, ['cancelled']),
        this.submit({ mutex, untilSignaled: true, holdMs: 60_000 }, ['released']),
      ]);
      await Promise.all([tryOnce, shortWait].map((id) => (id === undefined ? undefined : this.terminal(id))));
      if (cancelled !== undefined) await this.client.call('DELETE', this.path(cancelled), [202]);
      if (early !== undefined) await this.client.call('POST', this.path(early, '/signal'), [202]);
      await this.client.call('POST', this.path(holder, '/signal'), [202]);
      if (early !== undefined) await this.terminal(early);
    } else {
      await this.client.call('POST', this.path(holder, '/signal'), [202, 409, 404]);
    }
    await this.terminal(holder);
    await this.client.call('POST', this.path(holder, '/signal'), [409, 404]);
    await this.client.call('DELETE', this.path(holder), [409, 404]);
  }

  /** Cancelled right after its submit: queued, waiting or holding, whichever it reached. */
  private async cancelQuick(): Promise<void> {
    const id = await this.submit({ mutex: this.name('quick', Math.floor(Math.random() * 2)), holdMs: 20 }, ['cancelled', 'released']);
    if (id !== undefined) await this.client.call('DELETE', this.path(id), [202, 409]);
  }

  /** A cancel while holding acts as a signal: the work returns and is released. */
  private async cancelHolding(): Promise<void> {
    const id = await this.submit({ mutex: this.name('cancel-holding', Math.floor(Math.random() * 2)), untilSignaled: true, holdMs: 60_000 }, ['released']);
    if (id === undefined) return;
    // Not seen holding (a machine too loaded to get there in 20 s): the cancel may then
    // find it queued or waiting, and it ends cancelled.
    if (!(await this.reach(id, 'holding'))) this.ledger.allow(id, ['released', 'cancelled']);
    await this.client.call('DELETE', this.path(id), [202, 409]);
  }

  /**
   * More waiters behind one holder than the pool has threads, so that some are still
   * queued when they are all cancelled.
   */
  private async cancelQueuedBurst(): Promise<void> {
    const mutex = this.name('burst', 0);
    const holder = await this.submit({ mutex, untilSignaled: true, holdMs: 60_000 }, ['released']);
    if (holder === undefined) return;
    await this.reach(holder, 'holding');
    const waiters = await Promise.all(Array.from({ length: 20 }, () => this.submit({ mutex }, ['cancelled'])));
    await Promise.all(waiters.map((id) => (id === undefined ? undefined : this.client.call('DELETE', this.path(id), [202]))));
    await this.client.call('POST', this.path(holder, '/signal'), [202]);
  }

  /** A key submitted, replayed (the same work), and reused with another body (422). */
  private async idempotency(): Promise<void> {
    const n = this.serial.idempotency++;
    const key = `soak-${this.tag}-${n}`;
    const body = { mutex: this.name('idem', n % 4), holdMs: 1, acquireTimeoutMs: PATIENT_MS };
    const first = await this.submit(body, ['released'], { 'idempotency-key': key });
    if (first === undefined) return;
    const replay = await this.client.call('POST', '/v1/work', [202], { body, headers: { 'idempotency-key': key } });
    if (replay?.status === 202 && (JSON.parse(replay.text) as WorkRef).id !== first) {
      this.client.tally.unexpected++;
      this.client.tally.examples.push(`replay of ${key} answered another work than ${first}`);
    }
    await this.client.call('POST', '/v1/work', [422], { body: { ...body, holdMs: 2 }, headers: { 'idempotency-key': key } });
  }

  /** A fresh mutex: opened, busy (delete refused), then deleted; nothing of it may stay behind. */
  private async mutexLifecycle(): Promise<void> {
    const name = encodeURIComponent(this.name('tmp', this.serial.mutex++));
    await this.client.call('PUT', `/v1/mutexes/${name}`, [201]);
    await this.client.call('GET', `/v1/mutexes/${name}`, [200]);
    const id = await this.submit({ mutex: decodeURIComponent(name), holdMs: 300 }, ['released']);
    // Busy for 300 ms: refused, unless this machine took longer than that to get here.
    await this.client.call('DELETE', `/v1/mutexes/${name}`, [409, 200]);
    if (id !== undefined) await this.terminal(id);
    await this.client.call('DELETE', `/v1/mutexes/${name}`, [200, 404]);
  }

  private async badInput(): Promise<void> {
    const [req] = fc.sample(hostileRequest, 1);
    this.badInputs++;
    // Every one is invalid by construction: any answer but these 4xx is tallied.
    await this.client.call(req!.method, req!.path, [400, 404, 405, 409, 413, 415, 422, 431], { headers: req!.headers, ...(req!.body === undefined ? {} : { body: req!.body }) });
  }

  private async reads(): Promise<void> {
    await Promise.all([
      this.client.call('GET', '/v1/status', [200]),
      this.client.call('GET', '/v1/mutexes?limit=20', [200]),
      this.client.call('GET', '/v1/work?state=holding,waiting&limit=20', [200]),
      this.client.call('GET', '/v1/pool', [200]),
    ]);
  }
}
