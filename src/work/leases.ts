/**
 * Leases (docs/design.md §3.1): a work with a lease ends when its client stops renewing it. The
 * expiry is a service-level decision on the engine clock; the engine contract is
 * untouched: an expired holding work is ended with engine.signal(), an expired queued or
 * waiting one with engine.cancel(). The work service records the cause as a lease
 * expiry, never as a client's signal or cancel.
 *
 * One timer serves every lease: it is armed for the earliest expiry. A renewal only
 * moves an expiry later, so it never needs the timer re-armed; when the timer fires it
 * expires what is due (on the engine clock, not the timer's idea of time) and re-arms for
 * the next one.
 */
import type { Ns } from '../engine/types.js';

const NS_PER_MS = 1_000_000n;
/** setTimeout's largest delay; a later expiry re-arms when this one fires. */
const MAX_TIMER_MS = 2_147_483_647;

export interface LeaseTerms {
  /** How long a renewal keeps the work alive. */
  readonly leaseMs: number;
  /** When the lease runs out, on the engine clock. */
  readonly expiresNs: Ns;
}

export interface LeaseOptions {
  /** The engine clock. */
  now(): Ns;
  /** A lease ran out: end its work (called once per lease, from the timer). */
  onExpire(workId: string): void;
}

export class Leases {
  private readonly live = new Map<string, LeaseTerms>();
  private timer: NodeJS.Timeout | undefined;
  /** What the armed timer fires for (engine clock), or null when no timer is armed. */
  private armedForNs: Ns | null = null;
  private stopped = false;

  constructor(private readonly options: LeaseOptions) {}

  /** Leases running now (works held, waiting or queued under a lease). */
  get size(): number { return this.live.size; }

  get(workId: string): LeaseTerms | undefined { return this.live.get(workId); }

  /** Starts or renews a lease: it now runs out leaseMs from now. Returns the new terms. */
  renew(workId: string, leaseMs: number): LeaseTerms {
    const terms: LeaseTerms = { leaseMs, expiresNs: this.options.now() + BigInt(leaseMs) * NS_PER_MS };
    this.live.set(workId, terms);
    if (this.armedForNs === null || terms.expiresNs < this.armedForNs) this.arm(terms.expiresNs);
    return terms;
  }

  /** The work ended (or its lease expired): no lease to watch. The timer stays; it re-arms lazily. */
  drop(workId: string): void {
    this.live.delete(workId);
  }

  /** Shutdown: no more expiries. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedForNs = null;
    this.live.clear();
  }

  private arm(atNs: Ns): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.armedForNs = atNs;
    const now = this.options.now();
    const delayMs = atNs <= now ? 0 : Math.min(MAX_TIMER_MS, Math.ceil(Number(atNs - now) / 1e6));
    this.timer = setTimeout(() => this.fire(), delayMs);
    // The server's socket keeps the process alive; a lease must not keep it from exiting.
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedForNs = null;
    const now = this.options.now();
    const due: string[] = [];
    let next: Ns | null = null;
    for (const [workId, terms] of this.live) {
      if (terms.expiresNs <= now) due.push(workId);
      else if (next === null || terms.expiresNs < next) next = terms.expiresNs;
    }
    for (const workId of due) {
      this.live.delete(workId);
      this.options.onExpire(workId);
    }
    // onExpire may have renewed or started leases, which armed the timer already.
    if (next !== null && (this.armedForNs === null || next < this.armedForNs)) this.arm(next);
  }
}
