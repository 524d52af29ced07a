/**
 * Builds the app on the emulated engine for route-level tests (Fastify inject), and
 * closes it when the test ends.
 */
import type { TestContext } from 'node:test';
import { buildApp, type App } from '../../src/app.js';
import { selectEngine } from '../../src/engine/select.js';
import { testConfig } from './config.js';

export async function buildTestApp(t: TestContext, env: Record<string, string> = {}): Promise<App> {
  const config = testConfig(env);
  const engine = await selectEngine('emulated', { pool: { minThreads: config.pool.minThreads, maxThreads: config.pool.maxThreads }, checked: true });
  const app = await buildApp({ config, engine });
  t.after(() => app.close());
  await app.ready();
  return app;
}
