/**
 * The emulated engine's clock. `process.hrtime.bigint()` reads CLOCK_MONOTONIC through
 * libuv, which is one clock for the whole process: a timestamp taken on a worker thread
 * and one taken on the main thread are directly comparable. Every phase timestamp uses it.
 */
import type { Ns } from '../types.js';

export function nowNs(): Ns {
  return process.hrtime.bigint();
}

export function msToNs(ms: number): Ns {
  return BigInt(Math.round(ms * 1e6));
}

export function nsToMs(ns: Ns): number {
  return Number(ns) / 1e6;
}
