import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventLog } from '../../src/events/event-log.js';
import type { MutexView } from '../../src/schemas/mutex.js';

const mutex = { name: 'Local\\m' } as MutexView;
const publish = (log: EventLog, n: number) => {
  for (let i = 0; i < n; i++) log.publish('mutex.opened', new Date(0).toISOString(), { mutex }, { mutex: 'Local\\m', workId: null });
};

describe('EventLog', () => {
  it('numbers events from 1 with strictly increasing seq and ids <boot>-<seq>', () => {
    const log = new EventLog(10, 'boot1');
    publish(log, 3);
    const events = log.after(0).events;
    assert.deepEqual(events.map((e) => e.seq), [1, 2, 3]);
    assert.match(events[2]!.frame, /^id: boot1-3\nevent: mutex\.opened\ndata: \{"seq":3,"type":"mutex\.opened",/);
    assert.ok(events[2]!.frame.endsWith('\n\n'));
  });

  it('replays exactly the events after a seq', () => {
    const log = new EventLog(10);
    publish(log, 5);
    const replay = log.after(2);
    assert.equal(replay.kind, 'ok');
    assert.deepEqual(replay.events.map((e) => e.seq), [3, 4, 5]);
    assert.deepEqual(log.after(5), { kind: 'ok', events: [] });
  });

  it('reports a gap when the position fell out of the ring buffer, and keeps the newest', () => {
    const log = new EventLog(4);
    publish(log, 10);
    assert.equal(log.oldestSeq, 7);
    assert.deepEqual(log.after(6).events.map((e) => e.seq), [7, 8, 9, 10]);
    assert.equal(log.after(6).kind, 'ok');
    const gap = log.after(5);
    assert.equal(gap.kind, 'gap');
    assert.deepEqual(gap.events.map((e) => e.seq), [7, 8, 9, 10]);
  });

  it('reports a gap for a seq this process never issued', () => {
    const log = new EventLog(4);
    publish(log, 2);
    assert.equal(log.after(3).kind, 'gap');
  });

  it('delivers to subscribers synchronously and stops after unsubscribe', () => {
    const log = new EventLog(4);
    const seen: number[] = [];
    const unsubscribe = log.subscribe((e) => seen.push(e.seq));
    publish(log, 2);
    unsubscribe();
    publish(log, 1);
    assert.deepEqual(seen, [1, 2]);
    assert.equal(log.subscriberCount, 0);
  });
});
