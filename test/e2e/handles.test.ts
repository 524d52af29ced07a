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

/**
 * `rounds` times: a fresh semaphore and event object, a work that takes a unit and sets
 * the event on return, both deleted; and a fresh mutex abandoned on cue, then deleted.
 */
async function churnObjects(tag: string, rounds: number): Promise<void> {
  const one = async (i: number) => {
    const sem = `handles-${tag}-sem-${i}`;
    const ev = `handles-${tag}-ev-${i}`;
    const mutex = `handles-${tag}-abandon-${i}`;
    assert.equal((await target.api.request('PUT', `/v1/semaphores/${sem}`)).status, 201);
    assert.equal((await target.api.request('PUT', `/v1/event-objects/${ev}`)).status, 201);
    const work = await target.api.submitOk({ semaphore: sem, setEventOnReturn: ev });
    assert.equal((await target.api.waitTerminal(work.id)).state, 'released');
    assert.equal((await target.api.request('DELETE', `/v1/semaphores/${sem}`)).status, 204);
    assert.equal((await target.api.request('DELETE', `/v1/event-objects/${ev}`)).status, 204);
    const abandon = await target.api.request<{ id: string }>('POST', `/v1/mutexes/${mutex}/abandon`);
    assert.equal(abandon.status, 202);
    assert.equal((await target.api.waitTerminal(abandon.body.id)).state, 'abandoned');
    assert.equal((await target.api.deleteMutex(mutex)).status, 200);
  };
  for (let i = 0; i < rounds; i += PARALLEL) await Promise.all(Array.from({ length: Math.min(PARALLEL, rounds - i) }, (_, j) => one(i + j)));
}

describe('OS handles', () => {
  it(`${ROUNDS / 2} semaphores, event objects and abandoned mutexes opened, used and deleted leave the handle count where it was`, async () => {
    const run = Date.now().toString(36);
    await churnObjects(`${run}-warm`, 24);
    const before = await handles();
    await churnObjects(run, ROUNDS / 2);
    const after = await handles();
    // Three objects and an abandon thread per round: a leak of any one would add ROUNDS / 2.
    assert.ok(after - before < ROUNDS / 4, `${before} handles before, ${after} after ${ROUNDS / 2} rounds`);
  });

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
