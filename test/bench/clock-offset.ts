/**
 * The offset between the engine's clock (the `*AtNs` stamps) and process.hrtime here.
 * The emulated engine reads CLOCK_MONOTONIC like this process, so the offset is ~0; the
 * win32 engine under Wine reads QueryPerformanceCounter (CLOCK_MONOTONIC_RAW in Wine),
 * natively on Windows an unrelated counter. Estimated NTP-style: a submit's `queuedAtNs`
 * was taken between sending the request and reading the answer, so with the shortest
 * round trip of many, engine − local midpoint is the offset within half that round trip.
 */
import type { WorkView } from '../../src/schemas/work.js';

export async function calibrateClock(submit: (body: Record<string, unknown>) => Promise<WorkView>, probes = 40): Promise<bigint> {
  let best: { rttNs: bigint; offsetNs: bigint } | undefined;
  for (let i = 0; i < probes; i++) {
    const sent = process.hrtime.bigint();
    const work = await submit({ mutex: 'bench-clock', holdMs: 0 });
    const answered = process.hrtime.bigint();
    const { queuedAtNs } = work;
    if (queuedAtNs === null) throw new Error('clock probe: the work has no queuedAtNs');
    const rttNs = answered - sent;
    const offsetNs = BigInt(queuedAtNs) - (sent + rttNs / 2n);
    if (best === undefined || rttNs < best.rttNs) best = { rttNs, offsetNs };
  }
  return best!.offsetNs;
}
