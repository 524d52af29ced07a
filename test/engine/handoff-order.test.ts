/**
 * The emulated engine's per-mutex delivery order (src/engine/emulated/handoff-order.ts),
 * driven directly: phases pushed in the orders that separate worker ports can produce.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError } from '../../src/engine/errors.js';
import { HandoffOrder } from '../../src/engine/emulated/handoff-order.js';
import type { Phase } from '../../src/engine/types.js';

const SLOT = 7;

function recorder(): { order: HandoffOrder; delivered: string[] } {
  const delivered: string[] = [];
  const order = new HandoffOrder((phase) => delivered.push(`${phase.workId}:${phase.type}`));
  order.newMutex(SLOT);
  return { order, delivered };
}

const started = (workId: string): Phase => ({ type: 'started', workId, atNs: 0n, threadId: 1, mayRunLong: null });
const acquired = (workId: string, fencingToken: number): Phase => ({ type: 'acquired', workId, atNs: 0n, threadId: 1, abandoned: false, fencingToken });
const returned = (workId: string): Phase => ({ type: 'returned', workId, atNs: 0n, signaled: false });
const released = (workId: string): Phase => ({ type: 'released', workId, atNs: 0n });
const failed = (workId: string): Phase => ({ type: 'failed', workId, atNs: 0n, error: new EngineError('thread_died', 'test') });

describe('emulated engine: handoff order', () => {
  it('passes phases in order straight through', () => {
    const { order, delivered } = recorder();
    for (const phase of [started('a'), acquired('a', 1), returned('a'), acquired('b', 2), released('a')]) order.push(SLOT, phase);
    assert.deepEqual(delivered, ['a:started', 'a:acquired', 'a:returned', 'b:acquired', 'a:released']);
  });

  it('holds the next acquired, and the rest of its work, until the previous holder returned', () => {
    const { order, delivered } = recorder();
    order.push(SLOT, started('b'));
    order.push(SLOT, acquired('b', 2));
    order.push(SLOT, returned('b'));
    order.push(SLOT, released('b'));
    order.push(SLOT, acquired('c', 3));
    assert.deepEqual(delivered, ['b:started'], 'b and c wait for token 1');
    order.push(SLOT, acquired('a', 1));
    order.push(SLOT, returned('a'));
    // c may go as soon as b returned: only a released may come after the next acquired.
    assert.deepEqual(delivered, ['b:started', 'a:acquired', 'a:returned', 'b:acquired', 'b:returned', 'c:acquired', 'b:released']);
  });

  it('a holder that died ends its turn, even before the turn before it ended', () => {
    const { order, delivered } = recorder();
    order.push(SLOT, acquired('a', 1));
    order.push(SLOT, acquired('b', 2));
    order.push(SLOT, failed('b'));
    order.endTurn(SLOT, 2);
    order.push(SLOT, acquired('c', 3));
    assert.deepEqual(delivered, ['a:acquired']);
    order.push(SLOT, returned('a'));
    assert.deepEqual(delivered, ['a:acquired', 'a:returned', 'b:acquired', 'b:failed', 'c:acquired']);
  });

  it('a holder that died before reporting acquired ends its turn through endTurn', () => {
    const { order, delivered } = recorder();
    order.push(SLOT, acquired('c', 2));
    order.endTurn(SLOT, 1);
    assert.deepEqual(delivered, ['c:acquired']);
  });

  it('flush delivers what is still held, in token order', () => {
    const { order, delivered } = recorder();
    order.push(SLOT, acquired('d', 4));
    order.push(SLOT, acquired('c', 3));
    order.push(SLOT, released('c'));
    order.flush();
    assert.deepEqual(delivered, ['c:acquired', 'c:released', 'd:acquired']);
  });

  it('a new mutex on a reused slot starts from token 1', () => {
    const { order, delivered } = recorder();
    order.push(SLOT, acquired('a', 1));
    order.push(SLOT, returned('a'));
    order.newMutex(SLOT);
    order.push(SLOT, acquired('z', 1));
    assert.deepEqual(delivered, ['a:acquired', 'a:returned', 'z:acquired']);
  });
});
