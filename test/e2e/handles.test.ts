/**
 * Opened and deleted mutexes, and finished works, leave no OS handle behind, on either
 * engine: read from tpmutex_process_handles (the handle count on Windows and under
 * Wine, file descriptors on Linux) before and after a few hundred of each. A leak of
 * one handle per mutex or per work would add hundreds; sockets and pool threads that
 * come and go move the count by a few dozen at most, and the same load runs once
 * before the first reading so that the pool has already grown.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useTarget } from './target.js';

const target = useTarget();
const ROUNDS = 200;
const PARALLEL = 8;

async function handles(): Promise<number> {
  const line = (await target.api.metrics()).split('\n').find((l) => l.startsWith('tpmutex_process_handles '));
  assert.ok(line, 'tpmutex_process_handles is exposed');
  return Number(line.split(' ')[1]);
}

/** `rounds` times: open a fresh mutex, run a work on it to its end, delete the mutex. */
async function churn(tag: string, rounds: number): Promise<void> {
  const one = async (i: number) => {
    const name = `handles-${tag}-${i}`;
    assert.equal((await target.api.putMutex(name)).status, 201);
    const work = await target.api.submitOk({ mutex: name, holdMs: 0 });
    assert.equal((await target.api.waitTerminal(work.id)).state, 'released');
    assert.equal((await target.api.deleteMutex(name)).status, 200);
  };
  for (let i = 0; i < rounds; i += PARALLEL) await Promise.all(Array.from({ length: Math.min(PARALLEL, rounds - i) }, (_, j) => one(i + j)));
}

describe('OS handles', () => {
  it(`${ROUNDS} mutexes opened, used and deleted leave the handle count where it was`, async () => {
    const run = Date.now().toString(36);
    await churn(`${run}-warm`, 40);
    const before = await handles();
    assert.ok(before > 0, `a live process holds handles: ${before}`);
    await churn(run, ROUNDS);
    const after = await handles();
    assert.ok(after - before < ROUNDS / 4, `${before} handles before, ${after} after ${ROUNDS} mutexes and works`);
  });
});
