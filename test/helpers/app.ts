/**
 * The app on a real engine, in this process: the one way tests (and the in-process
 * benchmarks) build it. buildTestApp adds the route-test defaults (emulated, checked,
 * ready, closed when the test ends).
 */
import type { TestContext } from 'node:test';
import { buildApp, type App, type AppDeps } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { selectEngine } from '../../src/engine/select.js';
import { testConfig } from './config.js';

export interface AppOptions {
  /** Checked mode: the engine verifies the Windows rules (default off). */
  checked?: boolean;
  loggerInstance?: AppDeps['loggerInstance'];
}

/** A new engine of the configured kind (config.engine, with its pool limits) and the app on it; not started. */
export async function appOnEngine(config: Config, options: AppOptions = {}): Promise<App> {
  const pool = { minThreads: config.pool.minThreads, maxThreads: config.pool.maxThreads };
  const engine = await selectEngine(config.engine, { pool, checked: options.checked ?? false });
  return buildApp({ config, engine, ...(options.loggerInstance === undefined ? {} : { loggerInstance: options.loggerInstance }) });
}

export async function buildTestApp(t: TestContext, env: Record<string, string> = {}): Promise<App> {
  const app = await appOnEngine(testConfig(env), { checked: true });
  t.after(() => app.close());
  await app.ready();
  return app;
}
