/** The exit code of each outcome (the ones the emulated engine cannot produce on cue: failed, abandoned). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { EXIT, exitCodeOf } from '../../src/cli/exit-codes.js';
import type { Work } from '../../src/client/index.js';

const work = (state: Work['state'], abandoned: boolean | null = null) => ({ state, abandoned }) as Work;

it('maps every state of a work to the documented exit code', () => {
  assert.deepEqual(
    [work('released'), work('holding'), work('timed_out'), work('cancelled'), work('failed'), work('released', true), work('holding', true), work('waiting'), work('queued')].map(exitCodeOf),
    [0, 0, 2, 3, 4, 5, 5, 2, 2],
  );
  assert.deepEqual(EXIT, { ok: 0, error: 1, timedOut: 2, cancelled: 3, failed: 4, abandoned: 5 });
});
