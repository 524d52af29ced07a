/**
 * The registry keys mutexes by kernel name. Windows in session 0 (a service) gives
 * `Local\x` and `Global\x` one kernel name; nothing here can run in session 0, so a
 * scripted engine reports the kernel names Windows would, and the service must treat
 * the two names as one mutex: one record, one engine handle, one holder, one queue, one
 * fencing sequence.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../../src/service-error.js';
import { createServices } from '../../src/services.js';
import { testConfig } from '../helpers/config.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';

function setup(session: number) {
  const engine = new ScriptedEngine();
  engine.session = session;
  const services = createServices(testConfig(), engine);
  return { engine, services, mutexes: services.mutexes, work: services.work };
}

describe('MutexRegistry: one record per kernel object', () => {
  it('session 1: Local\\x and Global\\x are two mutexes with their own kernel names', () => {
    const { mutexes, engine } = setup(1);
    const local = mutexes.open('Local\\x');
    const global = mutexes.open('Global\\x');
    assert.equal(global.created, true);
    assert.notEqual(local.record, global.record);
    assert.equal(mutexes.view(local.record).kernelName, '\\Sessions\\1\\BaseNamedObjects\\x');
    assert.equal(mutexes.view(global.record).kernelName, '\\BaseNamedObjects\\x');
    assert.deepEqual([...engine.open].sort(), ['Global\\x', 'Local\\x']);
  });

  it('session 0: Global\\x opens the Local\\x record as an alias; the engine keeps one handle', () => {
    const { mutexes, engine } = setup(0);
    const local = mutexes.open('Local\\x');
    const global = mutexes.open('Global\\x');
    assert.equal(global.created, false);
    assert.equal(global.existedBefore, true);
    assert.equal(global.record, local.record);
    assert.equal(mutexes.size, 1);
    assert.deepEqual([...engine.open], ['Local\\x'], 'the alias handle was closed again');
    const view = mutexes.view(mutexes.require('Global\\x'));
    assert.equal(view.name, 'Local\\x');
    assert.deepEqual(view.aliases, ['Global\\x']);
    assert.equal(view.kernelName, '\\BaseNamedObjects\\x');
    assert.equal(mutexes.list(10, undefined).items.length, 1);
    // Opening the alias again is the same record, and asks the engine nothing.
    assert.equal(mutexes.open('Global\\x').record, local.record);
  });

  it('session 0: works on either name share one queue and one fencing sequence, and the engine sees one name', () => {
    const { mutexes, work, engine } = setup(0);
    const first = work.submit({ mutex: 'Global\\d', untilSignaled: true }, undefined).work;
    const second = work.submit({ mutex: 'Local\\d' }, undefined).work;
    assert.equal(first.mutex, 'Global\\d');
    assert.equal(second.mutex, 'Global\\d', 'the alias resolves to the record\'s name');
    assert.deepEqual(engine.submitted.map((spec) => spec.acquire.kind === 'mutex' && spec.acquire.name), ['Global\\d', 'Global\\d']);
    const record = mutexes.require('Local\\d');
    assert.equal(record.queued, 2);
    engine.emit({ type: 'started', workId: first.id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'acquired', workId: first.id, threadId: 1, abandoned: false, fencingToken: 1 });
    engine.emit({ type: 'started', workId: second.id, threadId: 2, mayRunLong: null });
    engine.emit({ type: 'returned', workId: first.id, signaled: true });
    engine.emit({ type: 'released', actions: ['release_mutex'], workId: first.id });
    engine.emit({ type: 'acquired', workId: second.id, threadId: 2, abandoned: false, fencingToken: 2 });
    const view = mutexes.view(mutexes.require('Local\\d'));
    assert.equal(view.fencingToken, 2);
    assert.equal(view.holder?.workId, second.id);
    assert.equal(view.counters.acquisitions, 2);
    // Filters by either name find both works.
    assert.equal(work.list({ mutex: 'Local\\d' }, 10, undefined).items.length, 2);
  });

  it('closing through an alias closes the one record and its engine handle; a reopened mutex keeps its last token', () => {
    const { mutexes, engine, work } = setup(0);
    mutexes.open('Local\\c');
    mutexes.open('Global\\c');
    const done = work.submit({ mutex: 'Local\\c' }, undefined).work;
    engine.emit({ type: 'started', workId: done.id, threadId: 1, mayRunLong: null });
    engine.emit({ type: 'acquired', workId: done.id, threadId: 1, abandoned: false, fencingToken: 7 });
    engine.emit({ type: 'returned', workId: done.id, signaled: false });
    engine.emit({ type: 'released', actions: ['release_mutex'], workId: done.id });
    const closed = mutexes.close('Global\\c');
    assert.equal(closed.name, 'Local\\c');
    assert.equal(mutexes.size, 0);
    assert.equal(engine.open.size, 0);
    assert.throws(() => mutexes.require('Global\\c'), ServiceError);
    // Reopened under the other name: the view does not show a smaller token than before.
    const reopened = mutexes.open('Global\\c');
    assert.equal(mutexes.view(reopened.record).fencingToken, 7);
    assert.equal(mutexes.view(reopened.record).name, 'Global\\c');
  });

  it('every mutex view carries the boot, so tokens from two processes are never compared', () => {
    const { mutexes, services } = setup(1);
    const view = mutexes.view(mutexes.open('Local\\b').record);
    assert.equal(view.boot, services.events.boot);
  });
});
