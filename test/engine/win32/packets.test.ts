/**
 * What a completion-port packet means (src/engine/win32/packets.ts): completion keys and
 * the phases a step or a handback reports, from the job record. Pure, so it runs on
 * any platform.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handbackPhase, isHandback, launchKey, MAX_JOB_SLOTS, slotIndexOf, stepPhase } from '../../../src/engine/win32/packets.js';
import {
  DRAIN_STOP_KEY, TPM_ACTION_RELEASE_MUTEX, TPM_FN_CHECKED_RULE, TPM_KIND_MUTEX, TPM_JOB_CANCELLED, TPM_JOB_STARTED, TPM_PACKET_ACQUIRED, TPM_PACKET_FAILED,
  TPM_PACKET_RELEASED, TPM_PACKET_RETIRED, TPM_PACKET_STARTED, TPM_RULE_RELEASE_NOT_OWNED, type TpmJob,
} from '../../../src/engine/win32/protocol.js';

function record(over: Partial<TpmJob> = {}): TpmJob {
  return {
    port: null, key: 0, mutex: null, signal: null, done: null, acquire_timeout_ms: 0, spin_ms: 0, hold_ms: 0,
    may_run_long: 0, state: TPM_JOB_STARTED, signal_requested: 0, cancel_requested: 0, thread_id: 7, may_run_long_result: -1,
    wait_result: 0, owned: 0, abandoned: 0, signaled: 0, error: 0, error_fn: 0, post_error: 0, checks: 0, actions: 0,
    rule: 0, rule_status: 0, rule_count: 0, rule_owned: 0, cancel_seen: 0, fencing_token: 0, started_qpc: 0,
    acquired_qpc: 0, returned_qpc: 0, ended_qpc: 0, kind: TPM_KIND_MUTEX, user_event: null, work: null, thread: null, exit_wait: null, ...over,
  };
}

const toNs = (qpc: bigint): bigint => qpc * 100n;

describe('win32 engine: packets', () => {
  it('a completion key names the job slot and the launch; no launch has the stop key', () => {
    const key = launchKey(3n, 41);
    assert.equal(slotIndexOf(key), 41);
    assert.notEqual(launchKey(4n, 41), key, 'the next launch into the same slot has another key');
    assert.equal(slotIndexOf(launchKey(1n, MAX_JOB_SLOTS - 1)), MAX_JOB_SLOTS - 1);
    assert.notEqual(launchKey(1n, 0), DRAIN_STOP_KEY, 'generations start at 1');
  });

  it('step packets report their phase from the record; an unknown kind reports nothing', () => {
    assert.deepEqual(stepPhase(TPM_PACKET_STARTED, 'w', 5n, record()), { type: 'started', workId: 'w', atNs: 5n, threadId: 7, mayRunLong: null });
    assert.deepEqual(stepPhase(TPM_PACKET_ACQUIRED, 'w', 6n, record({ fencing_token: 9, abandoned: 1 })),
      { type: 'acquired', workId: 'w', atNs: 6n, threadId: 7, abandoned: true, fencingToken: 9 });
    const refused = stepPhase(TPM_PACKET_FAILED, 'w', 7n, record({ error_fn: TPM_FN_CHECKED_RULE, rule: TPM_RULE_RELEASE_NOT_OWNED }));
    assert.equal(refused?.type === 'failed' && refused.error.code, 'rule_violation');
    assert.equal(stepPhase(99, 'w', 8n, record()), undefined);
    assert.equal(isHandback(TPM_PACKET_RELEASED) && isHandback(TPM_PACKET_RETIRED) && !isHandback(TPM_PACKET_STARTED), true);
  });

  it('a handback ends a work that has not ended: released, cancelled at the cancel\'s stamp, or failed naming the lost post', () => {
    assert.deepEqual(handbackPhase(TPM_PACKET_RELEASED, 'w', 10n, record({ owned: 1, actions: TPM_ACTION_RELEASE_MUTEX }), toNs), { type: 'released', actions: ['release_mutex'], workId: 'w', atNs: 10n });
    assert.deepEqual(handbackPhase(TPM_PACKET_RETIRED, 'w', 10n, record({ state: TPM_JOB_CANCELLED, ended_qpc: 3 }), toNs),
      { type: 'cancelled', workId: 'w', atNs: 300n });
    const lost = handbackPhase(TPM_PACKET_RETIRED, 'w', 10n, record({ post_error: 6 }), toNs);
    assert.equal(lost.type === 'failed' && lost.error.fn, 'PostQueuedCompletionStatus');
    const refused = handbackPhase(TPM_PACKET_RELEASED, 'w', 10n, record({ owned: 1, rule: TPM_RULE_RELEASE_NOT_OWNED }), toNs);
    assert.equal(refused.type === 'failed' && refused.error.code, 'rule_violation');
  });
});
