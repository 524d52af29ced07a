/**
 * tpmutex_mutex_oldest_hold_seconds (the "held too long" alert reads it): 0 with nothing
 * held, the age of the oldest current hold while works hold, 0 again once they released.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { buildTestApp } from '../helpers/app.js';

const gauge = (exposition: string, name: string): number => {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(exposition);
  assert.ok(match, `${name} is exposed`);
  return Number(match[1]);
};

it('tpmutex_mutex_oldest_hold_seconds follows the oldest current hold', async (t) => {
  // No load shedding: on a loaded machine a 503 would stand in for the answers read here.
  const app = await buildTestApp(t, { MAX_EVENT_LOOP_DELAY_MS: '0' });
  const scrape = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.equal(gauge(await scrape(), 'tpmutex_mutex_oldest_hold_seconds'), 0);

  const ids: string[] = [];
  for (const mutex of ['age-a', 'age-b']) {
    const res = await app.inject({ method: 'POST', url: '/v1/work', payload: { mutex, untilSignaled: true } });
    assert.equal(res.statusCode, 202, res.body);
    ids.push(res.json<{ id: string }>().id);
  }
  const holding = async () => (await app.inject({ method: 'GET', url: '/v1/work?state=holding' })).json<{ items: { acquiredAtNs: string }[] }>().items;
  while ((await holding()).length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  const oldestAcquiredNs = (await holding()).map((w) => BigInt(w.acquiredAtNs)).reduce((a, b) => (a < b ? a : b));
  const before = app.services.clock.nowNs();
  const age = gauge(await scrape(), 'tpmutex_mutex_oldest_hold_seconds');
  const after = app.services.clock.nowNs();
  // Read between two clock readings: bounded by the oldest hold's age at each.
  assert.ok(age >= Number(before - oldestAcquiredNs) / 1e9 && age <= Number(after - oldestAcquiredNs) / 1e9, `age ${age}`);
  assert.equal(gauge(await scrape(), 'tpmutex_mutexes_held'), 2);

  for (const id of ids) {
    await app.inject({ method: 'POST', url: `/v1/work/${id}/signal` });
    await app.inject({ method: 'GET', url: `/v1/work/${id}?wait=terminal&timeoutMs=60000` });
  }
  assert.equal(gauge(await scrape(), 'tpmutex_mutex_oldest_hold_seconds'), 0);
});
