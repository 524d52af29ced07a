#!/usr/bin/env node
/**
 * The process: read the environment, pick the engine, build the app, listen, and shut
 * down gracefully on SIGTERM/SIGINT. The only place that reads process.env or exits.
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { isEngineError } from './engine/errors.js';
import { selectEngine } from './engine/select.js';
import { loggerOptions } from './http/logging.js';

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
  closeWithGrace({ delay: config.shutdownDelayMs + config.shutdownTimeoutMs + 5_000, logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
    app.log.info('stopped: every work finished, every handle closed');
  });

  await app.listen({ host: config.host, port: config.port });
  app.log.info({
    engine: engine.info.kind, boot: app.services.events.boot,
    auth: config.auth.tokens.length > 0 ? `${config.auth.tokens.length} token(s)` : 'off (loopback only)',
    rateLimit: config.rateLimit.max > 0 ? `${config.rateLimit.max} per ${config.rateLimit.windowMs} ms` : 'off',
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
