import { loadConfig, type Config } from '../../src/config.js';

/** The defaults, with overrides given as environment variables (the real parsing path). */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ ENGINE: 'emulated', LOG_LEVEL: 'silent', ...env });
}
