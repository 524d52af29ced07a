/**
 * The engines' per-mutex delivery order (src/engine/handoff-order.ts, docs/design.md §1.4),
 * driven directly: phases pushed in the orders that separate worker ports (emulated) or
 * a wait callback posting late (win32) can produce.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError } from '../../src/engine/errors.js';
import { HandoffOrder } from '../../src/engine/handoff-order.js';
import type { Phase } from '../../src/engine/types.js';

const MUTEX = 7;

interface Recorder {
  readonly order: HandoffOrder<number>;
  readonly delivered: string[];
  readonly phases: Phase[];
  /** What the table would say: the last fencing token issued on the mutex. */
  lastToken: number;
}

function recorder(): Recorder {
  const rec: Recorder = {
    delivered: [],
    phases: [],
    lastToken: 0,
    order: new HandoffOrder<number>((phase) => {
      rec.delivered.push(`${phase.workId}:${phase.type}`);
      rec.phases.push(phase);
    }, () => rec.lastToken),
  };
  rec.order.newMutex(MUTEX);
  return rec;
}

const started = (workId: string): Phase => ({ type: 'started', workId, atNs: 0n, threadId: 1, mayRunLong: null });
const acquired = (workId: string, fencingToken: number, atNs = 0n): Phase => ({ type: 'acquired', workId, atNs, threadId: 1, abandoned: false, fencingToken });
const returned = (workId: string, atNs = 0n): Phase => ({ type: 'returned', workId, atNs, signaled: false });
const released = (workId: string, atNs = 0n): Phase => ({ type: 'released', actions: ['release_mutex'], workId, atNs });
const failed = (workId: string): Phase => ({ type: 'failed', workId, atNs: 0n, error: new EngineError('thread_died', 'test') });

function releasedAt(rec: Recorder, workId: string): bigint | undefined {
  return rec.phases.find((phase) => phase.workId === workId && phase.type === 'released')?.atNs;
}

describe('engines: handoff order', () => {
  it('passes phases in order straight through', () => {
    const { order, delivered } = recorder();
    for (const phase of [started('a'), acquired('a', 1), returned('a'), released('a'), acquired('b', 2)]) order.push(MUTEX, phase);
    assert.deepEqual(delivered, ['a:started', 'a:acquired', 'a:returned', 'a:released', 'b:acquired']);
  });

  it('holds the next acquired until the previous holder released', () => {
    const { order, delivered } = recorder();
    for (const phase of [started('a'), acquired('a', 1), returned('a'), acquired('b', 2), released('a')]) order.push(MUTEX, phase);
    assert.deepEqual(delivered, ['a:started', 'a:acquired', 'a:returned', 'a:released', 'b:acquired']);
  });

  it('holds the next acquired, and the rest of its work, until the previous holder released', () => {
    const { order, delivered } = recorder();
    order.push(MUTEX, started('b'));
    order.push(MUTEX, acquired('b', 2));
    order.push(MUTEX, returned('b'));
    order.push(MUTEX, released('b'));
    order.push(MUTEX, acquired('c', 3));
    assert.deepEqual(delivered, ['b:started'], 'b and c wait for token 1');
    order.push(MUTEX, acquired('a', 1));
    order.push(MUTEX, returned('a'));
    assert.deepEqual(delivered, ['b:started', 'a:acquired', 'a:returned'], 'b waits for the release of token 1');
    order.push(MUTEX, released('a'));
    assert.deepEqual(delivered, ['b:started', 'a:acquired', 'a:returned', 'a:released', 'b:acquired', 'b:returned', 'b:released', 'c:acquired']);
  });

  it('a holder that died ends its turn, even before the turn before it ended', () => {
    const { order, delivered } = recorder();
    order.push(MUTEX, acquired('a', 1));
    order.push(MUTEX, acquired('b', 2));
    order.push(MUTEX, failed('b'));
    order.endTurn(MUTEX, 2);
    order.push(MUTEX, acquired('c', 3));
    assert.deepEqual(delivered, ['a:acquired']);
    order.push(MUTEX, returned('a'));
    order.push(MUTEX, released('a'));
    assert.deepEqual(delivered, ['a:acquired', 'a:returned', 'a:released', 'b:acquired', 'b:failed', 'c:acquired']);
  });

  it('a holder that died before reporting acquired ends its turn through endTurn', () => {
    const { order, delivered } = recorder();
    order.push(MUTEX, acquired('c', 2));
    order.endTurn(MUTEX, 1);
    assert.deepEqual(delivered, ['c:acquired']);
  });

  it('flush delivers what is still held, in token order', () => {
    const { order, delivered } = recorder();
    order.push(MUTEX, acquired('d', 4));
    order.push(MUTEX, acquired('c', 3));
    order.push(MUTEX, released('c'));
    order.flush();
    assert.deepEqual(delivered, ['c:acquired', 'c:released', 'd:acquired']);
  });

  it('a released stamped after the next acquisition carries the acquisition stamp', () => {
    const rec = recorder();
    rec.order.push(MUTEX, acquired('a', 1, 10n));
    rec.order.push(MUTEX, returned('a', 20n));
    rec.lastToken = 2;
    rec.order.push(MUTEX, acquired('b', 2, 25n));
    rec.order.push(MUTEX, released('a', 30n));
    assert.deepEqual(rec.delivered, ['a:acquired', 'a:returned', 'a:released', 'b:acquired']);
    assert.equal(releasedAt(rec, 'a'), 25n);
  });

  it('a released read before the next, already stamped, acquisition waits for it and goes first', () => {
    const rec = recorder();
    rec.order.push(MUTEX, acquired('a', 1, 10n));
    rec.order.push(MUTEX, returned('a', 20n));
    rec.lastToken = 2;
    rec.order.push(MUTEX, released('a', 30n));
    assert.deepEqual(rec.delivered, ['a:acquired', 'a:returned'], 'b has stamped token 2; its acquired is on its way');
    rec.order.push(MUTEX, acquired('b', 2, 25n));
    assert.deepEqual(rec.delivered, ['a:acquired', 'a:returned', 'a:released', 'b:acquired']);
    assert.equal(releasedAt(rec, 'a'), 25n);
  });

  it('a released with no next acquisition yet keeps its own stamp', () => {
    const rec = recorder();
    rec.lastToken = 1;
    rec.order.push(MUTEX, acquired('a', 1, 10n));
    rec.order.push(MUTEX, returned('a', 20n));
    rec.order.push(MUTEX, released('a', 30n));
    rec.order.push(MUTEX, acquired('b', 2, 40n));
    assert.equal(releasedAt(rec, 'a'), 30n);
  });

  it('a released waiting for an owner that died before reporting acquired goes as it is', () => {
    const rec = recorder();
    rec.order.push(MUTEX, acquired('a', 1, 10n));
    rec.order.push(MUTEX, returned('a', 20n));
    rec.lastToken = 2;
    rec.order.push(MUTEX, released('a', 30n));
    rec.order.endTurn(MUTEX, 2);
    assert.deepEqual(rec.delivered, ['a:acquired', 'a:returned', 'a:released']);
    assert.equal(releasedAt(rec, 'a'), 30n);
  });

  it('a new mutex on a reused table entry starts from token 1', () => {
    const { order, delivered } = recorder();
    order.push(MUTEX, acquired('a', 1));
    order.push(MUTEX, returned('a'));
    order.newMutex(MUTEX);
    order.push(MUTEX, acquired('z', 1));
    assert.deepEqual(delivered, ['a:acquired', 'a:returned', 'z:acquired']);
  });

  it('a reopened mutex continuing from token 5 delivers token 6 at once and holds token 7 behind it', () => {
    const { order, delivered } = recorder();
    order.newMutex(MUTEX, 5);
    order.push(MUTEX, acquired('later', 7));
    assert.deepEqual(delivered, [], 'token 6 has not finished its turn');
    order.push(MUTEX, acquired('next', 6));
    order.push(MUTEX, returned('next'));
    order.push(MUTEX, released('next'));
    assert.deepEqual(delivered, ['next:acquired', 'next:returned', 'next:released', 'later:acquired']);
  });

  it('an abandon work\'s abandoned phase ends its turn like released', () => {
    const { order, delivered } = recorder();
    order.push(MUTEX, started('a'));
    order.push(MUTEX, acquired('a', 1));
    order.push(MUTEX, acquired('b', 2));
    assert.deepEqual(delivered, ['a:started', 'a:acquired'], 'b waits for the abandoner');
    order.push(MUTEX, { type: 'abandoned', workId: 'a', atNs: 0n });
    assert.deepEqual(delivered, ['a:started', 'a:acquired', 'a:abandoned', 'b:acquired']);
  });
});

describe('engines: handoff order for semaphores', () => {
  const SEM = 9;
  const semRecorder = (maximumCount: number): Recorder => {
    const rec = recorder();
    rec.order.newSemaphore(SEM, maximumCount);
    return rec;
  };

  it('delivers up to maximumCount acquired phases at once, in any token order', () => {
    const { order, delivered } = semRecorder(2);
    order.push(SEM, acquired('b', 2));
    order.push(SEM, acquired('a', 1));
    assert.deepEqual(delivered, ['b:acquired', 'a:acquired'], 'no fencing-token order for a semaphore');
  });

  it('holds an acquired beyond maximumCount, with the rest of its work, until a holder ends', () => {
    const { order, delivered } = semRecorder(2);
    order.push(SEM, acquired('a', 1));
    order.push(SEM, acquired('b', 2));
    order.push(SEM, started('c'));
    order.push(SEM, acquired('c', 3));
    order.push(SEM, returned('c'));
    order.push(SEM, returned('a'));
    assert.deepEqual(delivered, ['a:acquired', 'b:acquired', 'c:started', 'a:returned'], 'c took a unit whose release is in flight');
    order.push(SEM, released('a'));
    assert.deepEqual(delivered, ['a:acquired', 'b:acquired', 'c:started', 'a:returned', 'a:released', 'c:acquired', 'c:returned']);
    order.push(SEM, released('c'));
    order.push(SEM, released('b'));
    assert.deepEqual(delivered.slice(-2), ['c:released', 'b:released']);
  });

  it('never more than maximumCount holders delivered at once, whatever order phases come in', () => {
    const { order, phases } = semRecorder(1);
    for (const id of ['c', 'b', 'a']) {
      order.push(SEM, acquired(id, id.charCodeAt(0)));
      order.push(SEM, returned(id));
      order.push(SEM, released(id));
    }
    let holders = 0;
    let most = 0;
    for (const phase of phases) {
      if (phase.type === 'acquired') holders++;
      if (phase.type === 'released') holders--;
      most = Math.max(most, holders);
    }
    assert.equal(most, 1);
    assert.equal(phases.filter((p) => p.type === 'released').length, 3, 'every work ends');
  });

  it('a held work whose own terminal phase was held with it frees its slot for the next one', () => {
    const { order, delivered } = semRecorder(1);
    order.push(SEM, acquired('a', 1));
    order.push(SEM, acquired('b', 2));
    order.push(SEM, returned('b'));
    order.push(SEM, released('b'));
    order.push(SEM, acquired('c', 3));
    order.push(SEM, failed('a'));
    assert.deepEqual(delivered, ['a:acquired', 'a:failed', 'b:acquired', 'b:returned', 'b:released', 'c:acquired']);
  });

  it('timed out and cancelled works that never held a unit free nothing and are never held', () => {
    const { order, delivered } = semRecorder(1);
    order.push(SEM, acquired('a', 1));
    order.push(SEM, started('t'));
    order.push(SEM, { type: 'timed_out', workId: 't', atNs: 0n });
    order.push(SEM, { type: 'cancelled', workId: 'x', atNs: 0n });
    order.push(SEM, acquired('b', 2));
    assert.deepEqual(delivered, ['a:acquired', 't:started', 't:timed_out', 'x:cancelled']);
  });

  it('keeps release stamps as they are', () => {
    const rec = semRecorder(1);
    rec.order.push(SEM, acquired('a', 1, 10n));
    rec.order.push(SEM, returned('a', 20n));
    rec.order.push(SEM, acquired('b', 2, 25n));
    rec.order.push(SEM, released('a', 30n));
    assert.equal(releasedAt(rec, 'a'), 30n);
    assert.deepEqual(rec.delivered, ['a:acquired', 'a:returned', 'a:released', 'b:acquired']);
  });

  it('forget and flush deliver what a semaphore still holds', () => {
    const { order, delivered } = semRecorder(1);
    order.push(SEM, acquired('a', 1));
    order.push(SEM, acquired('b', 2));
    order.flush();
    assert.deepEqual(delivered, ['a:acquired', 'b:acquired']);
    const other = semRecorder(1);
    other.order.push(SEM, acquired('a', 1));
    other.order.push(SEM, acquired('b', 2));
    other.order.forget(SEM);
    assert.deepEqual(other.delivered, ['a:acquired', 'b:acquired']);
  });

  it('newSemaphore refuses a maximumCount below 1', () => {
    const { order } = recorder();
    assert.throws(() => order.newSemaphore(SEM, 0), RangeError);
  });

  it('a key reused for a mutex after a semaphore follows the mutex rules again', () => {
    const { order, delivered } = semRecorder(2);
    order.newMutex(SEM);
    order.push(SEM, acquired('b', 2));
    assert.deepEqual(delivered, [], 'token 1 has not had its turn');
  });
});
