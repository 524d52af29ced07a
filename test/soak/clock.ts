/**
 * The offset between the engine's clock (the `*AtNs` stamps) and process.hrtime here,
 * kept fresh over a run of an hour: under Wine the engine reads CLOCK_MONOTONIC_RAW and
 * this process CLOCK_MONOTONIC, which NTP slews apart by up to half a millisecond a
 * second. Estimated as the benchmark does (test/bench/clock-offset.ts): a submit's
 * `queuedAtNs` was taken between sending it and reading the answer, so the probe with
 * the shortest round trip bounds the offset best. The probes are works like any other,
 * entered in the ledger.
 */
import type { SoakClient } from './client.js';
import type { WorkLedger } from './work-ledger.js';

export class EngineClock {
  offsetNs: bigint;

  constructor(private readonly client: SoakClient, private readonly ledger: WorkLedger, private readonly mutex: string, initialOffsetNs: bigint) {
    this.offsetNs = initialOffsetNs;
  }

  /** Re-estimates the offset from `probes` submits; keeps the old one if none answered. */
  async recalibrate(probes = 10): Promise<void> {
    let best: { rttNs: bigint; offsetNs: bigint } | undefined;
    for (let i = 0; i < probes; i++) {
      const sent = process.hrtime.bigint();
      const answer = await this.client.call('POST', '/v1/work', [202], { body: { mutex: this.mutex, holdMs: 0 } });
      const answered = process.hrtime.bigint();
      if (answer?.status !== 202) continue;
      const work = JSON.parse(answer.text) as { id: string; queuedAtNs: string | null };
      this.ledger.submitted(work.id, ['released']);
      if (work.queuedAtNs === null) continue;
      const rttNs = answered - sent;
      const offsetNs = BigInt(work.queuedAtNs) - (sent + rttNs / 2n);
      if (best === undefined || rttNs < best.rttNs) best = { rttNs, offsetNs };
    }
    if (best !== undefined) this.offsetNs = best.offsetNs;
  }

  /** An engine stamp as a time on this process's clock. */
  toLocalNs(engineNs: bigint): bigint {
    return engineNs - this.offsetNs;
  }
}
