/**
 * Where the end-to-end suites send their requests. With TPMUTEX_URL set (the Wine
 * harness, or a service you started yourself) they test that server; otherwise each
 * suite starts its own real server process on the emulated engine with E2E_SERVER_ENV.
 */
import { after, before } from 'node:test';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { Api } from './api.js';

/**
 * Settings the suites are written for. A harness that starts the server itself (e.g.
 * under Wine) must start it with these. The suites read /v1/info and adapt to the
 * values they depend on, and fail with a clear message where they cannot.
 */
export const E2E_SERVER_ENV: Readonly<Record<string, string>> = {
  POOL_MIN_THREADS: '2',
  POOL_MAX_THREADS: '64',
  EVENT_BUFFER: '4000',
  MAX_LABEL_LENGTH: '4096',
  SSE_MAX_BUFFERED_BYTES: '1048576',
  SSE_HEARTBEAT_MS: '500',
  BODY_LIMIT: '16384',
  WORK_HISTORY: '100000',
  // Load shedding is tested on its own; here a loaded CI machine must not turn a
  // contract test into a 503.
  MAX_EVENT_LOOP_DELAY_MS: '0',
  // Every test run checks the Windows rules Wine does not enforce (win32 engine).
  ENGINE_CHECKED: 'true',
};

export interface Target { api: Api; baseUrl: string; server: ServerProcess | null }

/** Registers before/after hooks and returns a handle filled in once `before` ran. */
export function useTarget(): Target {
  const target = { server: null } as unknown as Target;
  before(async () => {
    const external = process.env['TPMUTEX_URL'];
    if (external) {
      target.baseUrl = external.replace(/\/$/, '');
    } else {
      target.server = await startServer({ ENGINE: 'emulated', ...E2E_SERVER_ENV });
      target.baseUrl = target.server.baseUrl;
    }
    target.api = new Api(target.baseUrl);
    await target.api.waitReady();
  });
  after(async () => {
    if (target.server) {
      const code = await target.server.stop();
      if (code !== 0) throw new Error(`server exited with ${code}:\n${target.server.logs.slice(-20).join('\n')}`);
    }
  });
  return target;
}
