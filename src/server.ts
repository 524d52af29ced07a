#!/usr/bin/env node
/**
 * The process: read the environment, pick the engine, build the app, listen, and shut
 * down gracefully when asked (src/shutdown/requests.ts: signals, an IPC message, and on
 * Windows the named drain event and console control events). The only place that reads
 * process.env or exits.
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { isEngineError } from './engine/errors.js';
import { openNativeDrainRequest, selectEngine } from './engine/select.js';
import { loggerOptions } from './http/logging.js';
import { defaultDrainEventName, listenForShutdownRequests, type NativeDrainRequest } from './shutdown/requests.js';

/** Windows ends a process this long after CTRL_CLOSE_EVENT (the console window closed). */
const CTRL_CLOSE_ALLOWANCE_MS = 5_000;

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const engine = await selectEngine(config.engine, {
    pool: { minThreads: config.pool.minThreads, maxThreads: config.pool.maxThreads },
    checked: config.engineChecked,
  });
  const app = await buildApp({
    config,
    engine,
    // Human-friendly lines on a terminal; JSON lines everywhere else (files, pipes, services).
    logger: loggerOptions(config.logLevel, process.stdout.isTTY === true),
  });

  // The grace period covers the drain delay and the callbacks' bound, plus a margin;
  // past it close-with-grace exits 1 (and a second signal exits at once).
  const graceMs = config.shutdownDelayMs + config.shutdownTimeoutMs + 5_000;
  let shuttingDown = false;
  let requestedBy: string | undefined;
  let drainRequest: NativeDrainRequest | undefined;
  const closer = closeWithGrace({ delay: graceMs, logger: app.log }, async ({ signal, err }) => {
    shuttingDown = true;
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal: signal ?? requestedBy }, 'shutting down');
    await app.close();
    app.log.info('stopped: every work finished, every handle closed');
    // A console control handler waiting for the drain returns now; Windows then ends
    // the process, as close-with-grace is about to.
    drainRequest?.done();
  });

  // After close-with-grace's signal listeners, so the console control handler is
  // registered after libuv's and Windows calls it first.
  const drainEvent = config.shutdownEvent ?? defaultDrainEventName(process.pid);
  let drainNote: string;
  try {
    drainRequest = await openNativeDrainRequest({ name: drainEvent, closeBoundMs: CTRL_CLOSE_ALLOWANCE_MS, shutdownBoundMs: graceMs });
    drainNote = drainRequest === undefined ? 'none (not Windows)' : drainEvent;
  } catch (err) {
    // Chosen explicitly, it must work; the per-process default is a convenience.
    if (config.shutdownEvent !== undefined) throw new ConfigError(`SHUTDOWN_EVENT ${drainEvent} cannot be opened: ${(err as Error).message}`);
    drainNote = `unavailable (${(err as Error).message})`;
    app.log.warn({ err }, 'no drain event and no handler for CTRL_CLOSE/CTRL_SHUTDOWN: the native DLL did not load; signals and the IPC message still drain');
  }
  listenForShutdownRequests(process, drainRequest, (source) => {
    if (shuttingDown) return;
    requestedBy = source;
    closer.close();
  }, (err) => app.log.error({ err }, 'polling the drain event failed; signals and the IPC message still drain'));

  await app.listen({ host: config.host, port: config.port });
  app.log.info({
    engine: engine.info.kind, boot: app.services.events.boot,
    auth: config.auth.tokens.length > 0 ? `${config.auth.tokens.length} token(s)` : 'off (loopback only)',
    rateLimit: config.rateLimit.max > 0 ? `${config.rateLimit.max} per ${config.rateLimit.windowMs} ms` : 'off',
    drainEvent: drainNote,
  }, 'tpmutex ready');
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || isEngineError(err)) {
    console.error(`tpmutex: ${err.message}`);
  } else {
    console.error('tpmutex: failed to start', err);
  }
  process.exit(1);
});
