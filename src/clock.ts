import type { Ns } from './engine/types.js';

/**
 * Maps the engine's monotonic clock to wall time for the ISO timestamps. The pairing
 * is taken once at start, so ISO times keep the engine clock's order even if the wall
 * clock jumps.
 */
export class Clock {
  private readonly originNs: Ns;
  private readonly originWallMs: number;

  constructor(private readonly engineNow: () => Ns) {
    this.originNs = engineNow();
    this.originWallMs = Date.now();
  }

  nowNs(): Ns { return this.engineNow(); }

  iso(ns: Ns): string {
    return new Date(this.originWallMs + Number(ns - this.originNs) / 1e6).toISOString();
  }

  nowIso(): string { return this.iso(this.engineNow()); }
}
