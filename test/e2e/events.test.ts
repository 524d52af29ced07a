/**
 * The event stream: filters, resume after disconnect (exactly the missed events),
 * reset for positions not in the buffer, overflow for slow clients, heartbeats.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uniqueName } from './api.js';
import { metricValue, TERMINAL_EVENTS } from './checks.js';
import { SseClient } from './sse.js';
import { useTarget } from './target.js';

const target = useTarget();

interface Info { boot: string; events: { bufferSize: number; heartbeatMs: number; maxBufferedBytes: number }; limits: { maxLabelLength: number } }
const info = async () => (await target.api.request<Info>('GET', '/v1/info')).body;
const workId = (e: Record<string, unknown>) => (e['work'] as { id: string } | undefined)?.id;

/** Submits n quick works (try-once on a fresh mutex: queued, started, acquired, returned, released). */
async function burst(n: number, mutex: string, label?: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, () =>
      target.api.submitOk({ mutex, acquireTimeoutMs: 60_000, ...(label ? { label } : {}) })));
    ids.push(...batch.map((w) => w.id));
  }
  return ids;
}

describe('event stream', () => {
  it('frames carry id <boot>-<seq>, the event type and the full work object', async () => {
    const { api, baseUrl } = target;
    const { boot } = await info();
    const name = uniqueName('frames');
    const stream = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}`);
    const w = await api.submitOk({ mutex: name });
    await stream.waitFor(() => stream.events.some((e) => e.type === 'work.released'), 60_000, 'released');
    stream.close();
    const types = stream.frames.map((f) => f.event);
    assert.deepEqual(types, ['mutex.opened', 'work.queued', 'work.started', 'work.acquired', 'work.returned', 'work.released']);
    for (const frame of stream.frames) {
      assert.equal(frame.id, `${boot}-${frame.json.seq}`);
      assert.equal(frame.json.type, frame.event);
      assert.ok(!Number.isNaN(Date.parse(String(frame.json['at']))));
    }
    const released = stream.frames.at(-1)!.json['work'] as { id: string; state: string; mutex: string };
    assert.deepEqual([released.id, released.state, released.mutex], [w.id, 'released', name]);
  });

  it('DELETE of a mutex publishes mutex.closed with the mutex object', async () => {
    const { api, baseUrl } = target;
    const name = uniqueName('closed');
    const stream = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}`);
    assert.equal((await api.putMutex(name)).status, 201);
    assert.equal((await api.waitTerminal((await api.submitOk({ mutex: name })).id)).state, 'released');
    assert.equal((await api.deleteMutex(name)).status, 200);
    await stream.waitFor(() => stream.frames.some((f) => f.event === 'mutex.closed'), 60_000, 'mutex.closed');
    stream.close();
    const mutexFrames = stream.frames.filter((f) => f.event.startsWith('mutex.'));
    assert.deepEqual(mutexFrames.map((f) => f.event), ['mutex.opened', 'mutex.closed']);
    assert.equal(stream.frames.at(-1)!.event, 'mutex.closed', 'closed after every event of its works');
    const closed = mutexFrames[1]!.json['mutex'] as { name: string; state: string; holder: unknown; counters: { acquisitions: number } };
    assert.deepEqual([closed.name, closed.holder, closed.counters.acquisitions], [name, null, 1]);
  });

  it('filters by mutex, work and types', async () => {
    const { api, baseUrl } = target;
    const a = uniqueName('fa');
    const b = uniqueName('fb', 'bare');
    const byMutex = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(b)}`);
    const byTypes = await SseClient.open(baseUrl, `/v1/events?types=work.acquired,work.released&mutex=${encodeURIComponent(a)}`);
    const wa = await api.submitOk({ mutex: a });
    const byWork = await SseClient.open(baseUrl, `/v1/events?work=${wa.id}&after=0`);
    const wb = await api.submitOk({ mutex: b });
    await byMutex.waitFor(() => byMutex.events.some((e) => e.type === 'work.released'), 60_000, 'b released');
    await byTypes.waitFor(() => byTypes.events.some((e) => e.type === 'work.released'), 60_000, 'a released');
    await byWork.waitFor(() => byWork.events.some((e) => e.type === 'work.released'), 60_000, 'wa released');
    for (const s of [byMutex, byTypes, byWork]) s.close();
    assert.ok(byMutex.events.every((e) => workId(e) === wb.id || (e['mutex'] as { name: string }).name === `Local\\${b}`));
    assert.deepEqual(byTypes.events.map((e) => e.type), ['work.acquired', 'work.released']);
    assert.ok(byWork.events.length >= 5 && byWork.events.every((e) => workId(e) === wa.id));
  });

  it('resume with Last-Event-ID returns exactly the missed events', async () => {
    const { baseUrl } = target;
    const name = uniqueName('resume');
    const reference = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}`);
    const client = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}`);
    const first = await burst(10, name);
    const released = (s: SseClient, ids: string[]) => s.events.filter((e) => e.type === 'work.released' && ids.includes(workId(e)!)).length;
    await client.waitFor(() => released(client, first) === 10, 60_000, 'first burst');
    client.close();
    const lastId = client.frames.at(-1)!.id!;
    const second = await burst(10, name);
    await reference.waitFor(() => released(reference, [...first, ...second]) === 20, 60_000, 'both bursts');
    const resumed = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}`, { lastEventId: lastId });
    await resumed.waitFor(() => released(resumed, second) === 10, 60_000, 'second burst on resume');
    resumed.close();
    reference.close();
    const expected = reference.frames.map((f) => f.id).filter((id) => Number(id!.split('-')[1]) > Number(lastId.split('-')[1]));
    assert.deepEqual(resumed.frames.map((f) => f.id), expected);
    assert.equal(resumed.frames.some((f) => f.event === 'reset'), false);
  });

  it('?after=<seq> replays the same way', async () => {
    const { baseUrl } = target;
    const name = uniqueName('after');
    const reference = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}`);
    await burst(3, name);
    await reference.waitFor(() => reference.events.filter((e) => e.type === 'work.released').length === 3, 60_000, 'burst');
    reference.close();
    const from = reference.frames[2]!.json.seq!;
    const replay = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}&after=${from}`);
    await replay.waitFor(() => replay.frames.length >= reference.frames.length - 3, 60_000, 'replay');
    replay.close();
    assert.deepEqual(replay.frames.map((f) => f.id), reference.frames.slice(3).map((f) => f.id));
  });

  it('an id from another server process gets reset, never a wrong replay', async () => {
    const { baseUrl } = target;
    const stream = await SseClient.open(baseUrl, '/v1/events?types=mutex.closed', { lastEventId: 'otherboot-5' });
    await stream.waitFor(() => stream.frames.length > 0, 30_000, 'reset');
    stream.close();
    assert.equal(stream.frames[0]!.event, 'reset');
    assert.match(String(stream.frames[0]!.json['reason']), /another server process/);
  });

  it('a position older than the replay buffer gets reset first, then what is buffered', async () => {
    const { baseUrl } = target;
    const { boot, events } = await info();
    const name = uniqueName('wrap');
    const probe = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}`);
    const startSeq = Number(/lastSeq=(\d+)/.exec(probe.comments[0]!)![1]);
    // Each quick work publishes 5 events: push the start position out of the buffer.
    await burst(Math.ceil(events.bufferSize / 5) + 20, name);
    await probe.waitFor(() => probe.events.filter((e) => TERMINAL_EVENTS.has(String(e.type))).length >= Math.ceil(events.bufferSize / 5) + 20, 120_000, 'wrap burst');
    probe.close();
    // Unfiltered, so the replay's first event is the oldest one buffered, whatever its mutex.
    const stream = await SseClient.open(baseUrl, '/v1/events', { lastEventId: `${boot}-${startSeq}` });
    await stream.waitFor(() => stream.frames.length > 1, 30_000, 'reset and replay');
    stream.close();
    assert.equal(stream.frames[0]!.event, 'reset');
    assert.match(String(stream.frames[0]!.json['reason']), /no longer buffered/);
    // The hello comment and the replay are taken in the same turn: lastSeq there, and the
    // buffer is full, so the oldest buffered event is lastSeq − EVENT_BUFFER + 1.
    const lastSeq = Number(/lastSeq=(\d+)/.exec(stream.comments[0]!)![1]);
    const oldest = lastSeq - events.bufferSize + 1;
    assert.ok(oldest > startSeq + 1, 'the start position really fell out of the buffer');
    assert.equal(stream.frames[0]!.json['oldestSeq'], oldest);
    assert.equal(stream.frames[1]!.json.seq, oldest, 'the replay starts at the oldest buffered event');
    const seqs = stream.frames.slice(1).map((f) => f.json.seq!);
    assert.deepEqual(seqs, seqs.map((_, i) => oldest + i), 'and goes on without a gap');
  });

  it('a slow subscriber is cut off with overflow and resumes without losing an event', async () => {
    const { api, baseUrl } = target;
    const { events, limits } = await info();
    const name = uniqueName('slow');
    const label = 'x'.repeat(Math.min(4096, limits.maxLabelLength));
    const overflowsBefore = metricValue(await api.metrics(), 'tpmutex_sse_overflows_total')!;
    const slow = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}`);
    slow.pause();
    // Enough bytes to fill the loopback socket buffers and then maxBufferedBytes, while
    // everything after the cut-off still fits in the replay buffer.
    const frameBytes = 1200 + label.length;
    const works = Math.min(Math.ceil((24 * 1024 * 1024 + events.maxBufferedBytes) / (5 * frameBytes)), Math.floor(events.bufferSize / 5) - 50);
    assert.ok(works * 5 * frameBytes > 12 * 1024 * 1024 + events.maxBufferedBytes,
      `settings too small to overflow a loopback socket: EVENT_BUFFER ${events.bufferSize}, MAX_LABEL_LENGTH ${limits.maxLabelLength}, SSE_MAX_BUFFERED_BYTES ${events.maxBufferedBytes}`);
    const ids = await burst(works, name, label);
    for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map((id) => api.waitTerminal(id)));

    slow.resume();
    await slow.waitFor(() => slow.ended, 120_000, 'slow stream cut off');
    assert.equal(metricValue(await api.metrics(), 'tpmutex_sse_overflows_total'), overflowsBefore + 1, 'the cut-off is counted');
    const overflow = slow.frames.at(-1)!;
    assert.equal(overflow.event, 'overflow');
    const received = slow.frames.slice(0, -1);
    assert.equal(overflow.json['lastEventId'], received.at(-1)!.id);

    const resumed = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(name)}`, { lastEventId: String(overflow.json['lastEventId']) });
    const mine = new Set(ids);
    const releasedIn = (frames: typeof received) => frames.filter((f) => f.event === 'work.released' && mine.has(workId(f.json)!)).length;
    await resumed.waitFor(() => releasedIn(received) + releasedIn(resumed.frames) === ids.length, 120_000, 'every release after resume');
    resumed.close();

    // Together, exactly every event of this mutex: once each, in seq order.
    const all = [...received, ...resumed.frames];
    assert.equal(all.some((f) => f.event === 'reset' || f.event === 'overflow'), false);
    const seqs = all.map((f) => f.json.seq!);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order');
    assert.equal(new Set(seqs).size, seqs.length, 'no event twice');
    assert.equal(all.filter((f) => f.event === 'mutex.opened').length, 1);
    const perWork = new Map<string, string[]>();
    for (const f of all) if (f.event.startsWith('work.')) perWork.set(workId(f.json)!, [...(perWork.get(workId(f.json)!) ?? []), f.event]);
    assert.equal(perWork.size, ids.length);
    for (const [id, types] of perWork) {
      assert.deepEqual(types, ['work.queued', 'work.started', 'work.acquired', 'work.returned', 'work.released'], id);
    }
  });

  it('sends a heartbeat comment on an idle stream', async () => {
    const { baseUrl } = target;
    const { events } = await info();
    const stream = await SseClient.open(baseUrl, `/v1/events?mutex=${encodeURIComponent(uniqueName('idle'))}`);
    await stream.waitFor(() => stream.comments.includes('heartbeat'), events.heartbeatMs * 3 + 5_000, 'heartbeat');
    stream.close();
  });
});
