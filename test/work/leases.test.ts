import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Leases } from '../../src/work/leases.js';

const MS = 1_000_000n;

/** Leases on a clock the test moves; node's mocked setTimeout fires when the test ticks. */
function setup() {
  let now = 0n;
  const expired: string[] = [];
  const leases = new Leases({ now: () => now, onExpire: (id) => expired.push(id) });
  const advance = (ms: number) => { now += BigInt(ms) * MS; mock.timers.tick(ms); };
  return { leases, expired, advance, setNow: (ms: number) => { now = BigInt(ms) * MS; } };
}

describe('Leases', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('expires each lease once, at its expiry on the engine clock, earliest first', () => {
    const { leases, expired, advance } = setup();
    leases.renew('b', 300);
    leases.renew('a', 100);
    leases.renew('c', 300);
    assert.equal(leases.size, 3);
    advance(99);
    assert.deepEqual(expired, []);
    advance(1);
    assert.deepEqual(expired, ['a']);
    advance(200);
    assert.deepEqual(expired.sort(), ['a', 'b', 'c']);
    assert.equal(leases.size, 0);
    advance(10_000);
    assert.equal(expired.length, 3);
  });

  it('a renewal moves the expiry later; a dropped lease never expires', () => {
    const { leases, expired, advance } = setup();
    const first = leases.renew('a', 100);
    leases.renew('b', 100);
    advance(60);
    const second = leases.renew('a', 100);
    assert.equal(second.expiresNs - first.expiresNs, 60n * MS);
    leases.drop('b');
    advance(50);
    assert.deepEqual(expired, [], 'a was renewed, b dropped');
    advance(50);
    assert.deepEqual(expired, ['a']);
  });

  it('a timer that fires before the engine clock reached the expiry waits for it', () => {
    const { leases, expired, setNow } = setup();
    leases.renew('a', 100);
    // The timer's time passes, the engine clock lags behind it.
    setNow(40);
    mock.timers.tick(100);
    assert.deepEqual(expired, []);
    setNow(100);
    mock.timers.tick(60);
    assert.deepEqual(expired, ['a']);
  });

  it('a shorter lease started later re-arms the timer earlier; stop() ends every lease', () => {
    const { leases, expired, advance } = setup();
    leases.renew('long', 10_000);
    leases.renew('short', 10);
    advance(10);
    assert.deepEqual(expired, ['short']);
    leases.stop();
    advance(20_000);
    assert.deepEqual(expired, ['short']);
    assert.equal(leases.size, 0);
  });
});
