/**
 * Load shedding (@fastify/under-pressure): while the event loop lags more than
 * MAX_EVENT_LOOP_DELAY_MS (mean over a one-second sample, measured from when the app
 * is ready, see LagMonitor) or the heap is above MAX_HEAP_USED_BYTES, requests get a
 * 503 problem naming the limit, with Retry-After, instead of queueing behind the lag.
 * /livez and /metrics still answer (the process is alive, and you want to see why it
 * sheds); /readyz answers 503 like the rest, so load balancers back off.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { LagMonitor } from './lag-monitor.js';
import { isOnPaths } from './open-paths.js';
import { HttpProblem } from './problem.js';

/** Answered even while shedding: the process is alive, and you want to see why it sheds. */
export const NEVER_SHED: ReadonlySet<string> = new Set(['/livez', '/metrics']);
const RETRY_AFTER_S = 5;
const SAMPLE_MS = 1000;

async function pressurePlugin(app: FastifyInstance, { pressure }: { pressure: Config['pressure'] }): Promise<void> {
  const { maxEventLoopDelayMs, maxHeapUsedBytes } = pressure;
  if (maxEventLoopDelayMs === 0 && maxHeapUsedBytes === 0) return;
  const lag = new LagMonitor();
  app.addHook('onReady', async () => lag.start());
  app.addHook('onClose', async () => lag.stop());
  await app.register(underPressure, {
    maxHeapUsedBytes,
    // The lag check is ours (LagMonitor), run by the plugin as its health check.
    ...(maxEventLoopDelayMs > 0 ? { healthCheck: async () => lag.sample() <= maxEventLoopDelayMs, healthCheckInterval: SAMPLE_MS } : {}),
    pressureHandler: (req, _reply, type, value) => {
      if (isOnPaths(req, NEVER_SHED)) return undefined; // let it through
      const heap = type === underPressure.TYPE_HEAP_USED_BYTES;
      const detail = heap
        ? `the service is overloaded: heap use ${Math.round(Number(value))} bytes is above ${maxHeapUsedBytes} (MAX_HEAP_USED_BYTES); retry later`
        : `the service is overloaded: event-loop delay ${Math.round(lag.lastMs)} ms is above ${maxEventLoopDelayMs} ms (MAX_EVENT_LOOP_DELAY_MS); retry later`;
      // A rejected promise reaches the one error handler (a thrown error would not).
      return Promise.reject(new HttpProblem(503, 'overloaded', 'Service overloaded', detail,
        { limit: heap ? 'MAX_HEAP_USED_BYTES' : 'MAX_EVENT_LOOP_DELAY_MS', headers: { 'retry-after': String(RETRY_AFTER_S) } }));
    },
  });
}

export const loadShedding = fp(pressurePlugin, { name: 'tpmutex-pressure', fastify: '5.x' });
