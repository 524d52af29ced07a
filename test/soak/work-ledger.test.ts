/** The soak's accounting of works: submitted, ended once, in a state their scenario allows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkLedger } from './work-ledger.js';

describe('soak work ledger', () => {
  it('a work is not terminal until its terminal event, whichever of the 202 and the event comes first', () => {
    const ledger = new WorkLedger();
    ledger.submitted('a');
    assert.equal(ledger.onEvent('work.acquired', 'a'), undefined);
    assert.equal(ledger.notTerminal, 1);
    assert.equal(ledger.onEvent('work.released', 'a'), 'released');
    // The event of b is read before its submit's answer.
    assert.equal(ledger.onEvent('work.timed_out', 'b'), 'timed_out');
    ledger.submitted('b', ['timed_out']);
    ledger.submitted('c');
    assert.equal(ledger.notTerminal, 1);
    assert.deepEqual(ledger.notTerminalExamples(), ['c']);
    assert.equal(ledger.works, 3);
    assert.deepEqual(ledger.outcomes, { released: 1, timed_out: 1, cancelled: 0, failed: 0 });
    assert.equal(ledger.wrongOutcomes + ledger.doubleEnds, 0);
  });

  it('counts an end outside what the scenario allows, and a second end', () => {
    const ledger = new WorkLedger();
    ledger.submitted('a', ['timed_out']);
    ledger.onEvent('work.released', 'a');
    assert.equal(ledger.wrongOutcomes, 1);
    assert.match(ledger.wrongOutcomeExamples[0]!, /a: released, expected timed_out/);
    ledger.onEvent('work.cancelled', 'a');
    assert.equal(ledger.doubleEnds, 1);
    // Twice before the 202 is read: also a double end.
    ledger.onEvent('work.released', 'b');
    ledger.onEvent('work.released', 'b');
    assert.equal(ledger.doubleEnds, 2);
  });

  it('a scenario can widen what an unfinished work may end in', () => {
    const ledger = new WorkLedger();
    ledger.submitted('a', ['released']);
    ledger.allow('a', ['released', 'cancelled']);
    ledger.onEvent('work.cancelled', 'a');
    assert.equal(ledger.wrongOutcomes, 0);
  });
});
