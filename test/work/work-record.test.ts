import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EngineError } from '../../src/engine/errors.js';
import type { Phase } from '../../src/engine/types.js';
import { isTerminal, type WorkState } from '../../src/schemas/work.js';
import { applyPhase, type WorkRecord } from '../../src/work/work-record.js';

function record(state: WorkState): WorkRecord {
  return {
    seq: 1, id: 'b.1', idempotencyKey: null, state,
    request: { operation: 'work', mutex: 'Local\\m', semaphore: null, setEventOnReturn: null, acquireTimeoutMs: 0, holdMs: 0, untilSignaled: false, spinMs: 0, mayRunLong: false, label: null, leaseMs: null },
    fencingToken: null, abandoned: null, threadId: null, mayRunLong: null, signaled: false, cancelRequested: false,
    queuedNs: 1n, startedNs: null, acquiredNs: null, returnedNs: null, releasedNs: null, endedNs: null, error: null, invariantViolation: null, actions: null, lease: null,
  };
}

const phases: Record<Phase['type'], Phase> = {
  started: { type: 'started', workId: 'b.1', atNs: 2n, threadId: 9, mayRunLong: true },
  acquired: { type: 'acquired', workId: 'b.1', atNs: 3n, threadId: 9, abandoned: true, fencingToken: 4 },
  returned: { type: 'returned', workId: 'b.1', atNs: 4n, signaled: true },
  released: { type: 'released', actions: ['release_mutex'], workId: 'b.1', atNs: 5n },
  abandoned: { type: 'abandoned', workId: 'b.1', atNs: 5n },
  timed_out: { type: 'timed_out', workId: 'b.1', atNs: 5n },
  cancelled: { type: 'cancelled', workId: 'b.1', atNs: 5n },
  failed: { type: 'failed', workId: 'b.1', atNs: 5n, error: new EngineError('thread_died', 'gone') },
};

/** The whole transition table: from each state, which phases apply and where they lead. */
const TABLE: Record<WorkState, Partial<Record<Phase['type'], WorkState>>> = {
  queued: { started: 'waiting', timed_out: 'timed_out', cancelled: 'cancelled', failed: 'failed' },
  waiting: { acquired: 'holding', timed_out: 'timed_out', cancelled: 'cancelled', failed: 'failed' },
  holding: { returned: 'holding', released: 'released', abandoned: 'abandoned', failed: 'failed' },
  released: {}, abandoned: {}, timed_out: {}, cancelled: {}, failed: {},
};

describe('work state machine', () => {
  for (const [from, allowed] of Object.entries(TABLE) as [WorkState, Partial<Record<Phase['type'], WorkState>>][]) {
    for (const phase of Object.values(phases)) {
      const to = allowed[phase.type];
      it(`${from} + ${phase.type} → ${to ?? 'ignored'}`, () => {
        const work = record(from);
        assert.equal(applyPhase(work, phase), to !== undefined);
        assert.equal(work.state, to ?? from);
      });
    }
  }

  it('records what each phase reports', () => {
    const work = record('queued');
    for (const type of ['started', 'acquired', 'returned', 'released'] as const) applyPhase(work, phases[type]);
    assert.deepEqual(
      [work.threadId, work.mayRunLong, work.abandoned, work.fencingToken, work.signaled, work.startedNs, work.acquiredNs, work.returnedNs, work.releasedNs, work.endedNs],
      [9, true, true, 4, true, 2n, 3n, 4n, 5n, 5n]);
    assert.equal(isTerminal(work.state), true);
  });

  it('a failure carries the engine error as a problem body', () => {
    const work = record('holding');
    applyPhase(work, phases.failed);
    assert.equal(work.error?.type, 'urn:tpmutex:problem:thread-died');
    assert.equal(work.error?.status, 500);
  });
});
