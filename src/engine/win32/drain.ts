/**
 * The completion-port drain: the one consumer of the shim's packets, from start() until
 * the wake-up packet (DRAIN_STOP_KEY) that shutdown posts behind the last callback's
 * packets. The blocking read happens on the drain's own thread (port-reader.ts); here
 * the batches are handed, one packet at a time and in port order, to the engine.
 */
import type { HANDLE, Win32Native } from './native.js';
import { DRAIN_STOP_KEY, type Packet } from './protocol.js';

/** Packets one hand-over may carry. */
const DRAIN_BATCH = 64;

/**
 * Resolves when the stop packet was read, or after `fail` was called: a failed read, or
 * a packet `onPacket` could not handle. Nothing is read after a failure.
 */
export async function drainPort(native: Win32Native, port: HANDLE, onPacket: (packet: Packet) => void, fail: (err: unknown) => void): Promise<void> {
  for (;;) {
    let packets: Packet[];
    try {
      packets = await native.takePackets(port, DRAIN_BATCH);
    } catch (err) {
      fail(err);
      return;
    }
    for (const packet of packets) {
      if (packet.key === DRAIN_STOP_KEY) return;
      try {
        onPacket(packet);
      } catch (err) {
        fail(err);
        return;
      }
    }
  }
}
