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

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const engine = await selectEngine(config.engine, { pool: { minThreads: config.pool.minThreads, maxThreads: config.pool.maxThreads } });
  const app = await buildApp({
    config,
    engine,
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
      // Human-friendly lines on a terminal; JSON lines everywhere else (files, pipes, services).
      ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
    },
  });

  closeWithGrace({ delay: config.shutdownTimeoutMs + 5_000, logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
    app.log.info('stopped: every work finished, every handle closed');
  });

  await app.listen({ host: config.host, port: config.port });
  app.log.info({ engine: engine.info.kind, boot: app.services.events.boot }, 'tpmutex ready');
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || isEngineError(err)) {
    console.error(`tpmutex: ${err.message}`);
  } else {
    console.error('tpmutex: failed to start', err);
  }
  process.exit(1);
});
