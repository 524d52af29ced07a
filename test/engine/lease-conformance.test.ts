/**
 * Leases on every engine (issue 15): the work service over each engine this platform has
 * (factories.ts; under Wine, inside node.exe, the win32 one too: test/win32/wine.ts runs
 * every *conformance.test.js here). A lease is the service's: it ends a hold with the
 * engine's signal and a wait with its cancel, on the engine clock, and the pool releases
 * the mutex as it would for a client's signal. Waits synchronise on events, never on
 * sleeps; the bounds are loose for a loaded machine.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Engine } from '../../src/engine/types.js';
import { createServices, type Services } from '../../src/services.js';
import { testConfig } from '../helpers/config.js';
import { engineFactories } from './factories.js';

const WAIT_MS = 60_000;
let unique = 0;

async function serviceOn(t: TestContext, create: () => Promise<Engine>): Promise<{ services: Services; engine: Engine; types: (id: string) => string[]; until: (id: string, type: string) => Promise<void> }> {
  const engine = await create();
  const services = createServices(testConfig({ MAX_LEASE_MS: '600000' }), engine);
  const seen: { workId: string | null; type: string }[] = [];
  const waiting = new Set<() => void>();
  services.events.subscribe((e) => { seen.push({ workId: e.workId, type: e.type }); for (const w of [...waiting]) w(); });
  t.after(() => services.work.shutdown(10_000));
  const types = (id: string) => seen.filter((e) => e.workId === id).map((e) => e.type);
  const until = (id: string, type: string) => new Promise<void>((resolve, reject) => {
    const check = () => { if (types(id).includes(type)) { waiting.delete(check); clearTimeout(timer); resolve(); } };
    const timer = setTimeout(() => { waiting.delete(check); reject(new Error(`no ${type} for ${id} in ${WAIT_MS} ms: ${types(id).join(' ')}`)); }, WAIT_MS);
    waiting.add(check);
    check();
  });
  return { services, engine, types, until };
}

for (const factory of engineFactories) {
  describe(`lease conformance: ${factory.kind}`, () => {
    const create = () => factory.create({ minThreads: 1, maxThreads: 4 });
    const name = () => `Local\\tpmutex-lease-conf-${process.pid}-${++unique}`;

    it('an expired lease ends the hold as its own outcome; the pool releases the mutex, not abandoned', async (t) => {
      const { services, engine, types, until } = await serviceOn(t, create);
      const mutex = name();
      const { work: w } = services.work.submit({ mutex, untilSignaled: true, leaseMs: 300 }, undefined);
      await until(w.id, 'work.released');
      const done = services.work.get(w.id);
      assert.equal(done.state, 'released');
      assert.equal(done.leaseExpired, true);
      assert.equal(done.signaled, false);
      assert.deepEqual(types(w.id), ['work.queued', 'work.started', 'work.acquired', 'work.lease_expired', 'work.returned', 'work.released']);
      assert.ok(BigInt(done.returnedAtNs!) >= BigInt(done.leaseExpiresAtNs!), 'the hold ended after the lease ran out (engine clock)');
      assert.deepEqual(engine.probeMutex(mutex), { state: 'free', recursion: 0 });
      const { work: next } = services.work.submit({ mutex, acquireTimeoutMs: 0 }, undefined);
      await until(next.id, 'work.released');
      assert.equal(services.work.get(next.id).abandoned, false);
      assert.equal(services.work.leaseExpiredCount, 1);
      assert.equal(services.work.leasedCount, 0);
    });

    it('an expired lease cancels a waiting work; the holder keeps the mutex', async (t) => {
      const { services, types, until } = await serviceOn(t, create);
      const mutex = name();
      const { work: holder } = services.work.submit({ mutex, untilSignaled: true }, undefined);
      await until(holder.id, 'work.acquired');
      const { work: waiter } = services.work.submit({ mutex, untilSignaled: true, acquireTimeoutMs: 600_000, leaseMs: 300 }, undefined);
      await until(waiter.id, 'work.cancelled');
      const done = services.work.get(waiter.id);
      assert.equal(done.leaseExpired, true);
      assert.equal(done.cancelRequested, false);
      assert.ok(types(waiter.id).indexOf('work.lease_expired') < types(waiter.id).indexOf('work.cancelled'));
      assert.equal(services.work.get(holder.id).state, 'holding');
      services.work.signal(holder.id);
      await until(holder.id, 'work.released');
    });

    it('keepalives hold a work across several leases; a hold ended by signal is not an expiry', async (t) => {
      const { services, until } = await serviceOn(t, create);
      const { work: w } = services.work.submit({ mutex: name(), untilSignaled: true, leaseMs: 2000 }, undefined);
      await until(w.id, 'work.acquired');
      const began = Date.now();
      await new Promise<void>((resolve) => {
        const renew = setInterval(() => {
          services.work.keepalive(w.id, undefined);
          if (Date.now() - began > 6000) { clearInterval(renew); resolve(); }
        }, 200);
      });
      assert.equal(services.work.get(w.id).state, 'holding');
      services.work.signal(w.id);
      await until(w.id, 'work.released');
      const done = services.work.get(w.id);
      assert.equal(done.leaseExpired, false);
      assert.equal(done.signaled, true);
    });
  });
}
