import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('has safe defaults: loopback, port 8080, auto engine', () => {
    const config = loadConfig({});
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.engine, 'auto');
    assert.equal(config.limits.maxLabelLength, 128);
    assert.equal(config.events.heartbeatMs, 15_000);
  });

  it('parses numbers and enums from strings and ignores unrelated variables', () => {
    const config = loadConfig({ PORT: '9000', ENGINE: 'emulated', POOL_MAX_THREADS: '8', PATH: '/bin' });
    assert.deepEqual([config.port, config.engine, config.pool.maxThreads], [9000, 'emulated', 8]);
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ ENGINE: 'linux' }, /ENGINE/],
    [{ POOL_MIN_THREADS: '0' }, /POOL_MIN_THREADS/],
    [{ POOL_MIN_THREADS: '9', POOL_MAX_THREADS: '4' }, /POOL_MIN_THREADS \(9\) must not exceed POOL_MAX_THREADS \(4\)/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ EVENT_BUFFER: '1.5' }, /EVENT_BUFFER/],
  ];
  for (const [env, message] of bad) {
    it(`rejects ${JSON.stringify(env)} with a message naming the variable`, () => {
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }

  it('names every bad variable at once, not only the first cross-field check that fails', () => {
    const env = { POOL_MIN_THREADS: '9', POOL_MAX_THREADS: '4', MUTEX_ALLOW: ' , ', AUTH_OPEN_PATHS: '/nope', SHUTDOWN_EVENT: 'a\\b\\c', CORS_ORIGINS: 'ftp://x', API_TOKENS: 'short' };
    const err = (() => { try { loadConfig(env); } catch (e) { return e; } assert.fail('expected a ConfigError'); })();
    assert.ok(err instanceof ConfigError);
    const lines = err.message.split('\n');
    for (const variable of ['POOL_MIN_THREADS', 'MUTEX_ALLOW', 'AUTH_OPEN_PATHS', 'SHUTDOWN_EVENT', 'CORS_ORIGINS', 'API_TOKENS entry 1']) {
      assert.equal(lines.filter((line) => line.startsWith('invalid configuration: ') && line.includes(variable)).length, 1, `one line names ${variable}:\n${err.message}`);
    }
    assert.equal(lines.length, 6);
  });
});

describe('loadConfig: the name policy and its old names', () => {
  it('OBJECT_ALLOW / OBJECT_GLOBAL, defaulting to * and true', () => {
    assert.deepEqual(loadConfig({}).names, { allow: ['*'], global: true, allowVar: 'OBJECT_ALLOW', globalVar: 'OBJECT_GLOBAL' });
    assert.deepEqual(loadConfig({ OBJECT_ALLOW: 'Local\\a*, Global\\b', OBJECT_GLOBAL: 'false' }).names,
      { allow: ['Local\\a*', 'Global\\b'], global: false, allowVar: 'OBJECT_ALLOW', globalVar: 'OBJECT_GLOBAL' });
  });

  it('MUTEX_ALLOW / MUTEX_GLOBAL keep working as their aliases, and messages name them', () => {
    assert.deepEqual(loadConfig({ MUTEX_ALLOW: 'x*', MUTEX_GLOBAL: 'false' }).names, { allow: ['x*'], global: false, allowVar: 'MUTEX_ALLOW', globalVar: 'MUTEX_GLOBAL' });
  });

  it('setting both names of one setting is an error naming both', () => {
    assert.throws(() => loadConfig({ OBJECT_ALLOW: 'a', MUTEX_ALLOW: 'a' }), (err: unknown) => err instanceof ConfigError && /OBJECT_ALLOW and MUTEX_ALLOW are both set/.test(err.message));
    assert.throws(() => loadConfig({ OBJECT_GLOBAL: 'true', MUTEX_GLOBAL: 'true' }), (err: unknown) => err instanceof ConfigError && /OBJECT_GLOBAL and MUTEX_GLOBAL are both set/.test(err.message));
  });

  it('MAX_SEMAPHORE_COUNT is at most LONG_MAX (2147483647), the Windows maximum', () => {
    assert.equal(loadConfig({}).limits.maxSemaphoreCount, 1_000_000);
    assert.equal(loadConfig({ MAX_SEMAPHORE_COUNT: '2147483647' }).limits.maxSemaphoreCount, 2_147_483_647);
    assert.throws(() => loadConfig({ MAX_SEMAPHORE_COUNT: '2147483648' }), /MAX_SEMAPHORE_COUNT/);
  });
});

describe('loadConfig: security', () => {
  it('refuses a non-loopback HOST without tokens, with a clear message', () => {
    assert.throws(() => loadConfig({ HOST: '0.0.0.0' }), (err: unknown) => err instanceof ConfigError && /refusing to start: HOST=0\.0\.0\.0.*API_TOKENS/.test(err.message));
    assert.equal(loadConfig({ HOST: '0.0.0.0', API_TOKENS: 'a-long-enough-token-123' }).host, '0.0.0.0');
    assert.equal(loadConfig({ HOST: '::1' }).host, '::1');
  });

  it('reads API_TOKENS_FILE (comments and blank lines ignored) and never echoes a bad token', () => {
    const io = { readFile: () => '# ops tokens\n\nfile-token-0123456789\n' };
    assert.deepEqual(loadConfig({ API_TOKENS_FILE: '/etc/tokens' }, io).auth.tokens, ['file-token-0123456789']);
    assert.throws(() => loadConfig({ API_TOKENS: 'short secret' }), (err: unknown) => err instanceof ConfigError && !err.message.includes('short secret'));
  });
});
