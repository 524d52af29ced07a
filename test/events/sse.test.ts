/**
 * SseHub write coalescing, on a real node:http server: what one event-loop turn
 * publishes reaches each subscriber as one socket write, and subscribers at the same
 * position with the same filter share one encoded chunk.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { EventLog } from '../../src/events/event-log.js';
import { SseHub, type EventFilter } from '../../src/events/sse.js';
import type { EventType } from '../../src/schemas/events.js';
import type { MutexView } from '../../src/schemas/mutex.js';

const log = new EventLog(1000, 'boot1');
const hub = new SseHub(log, { heartbeatMs: 60_000, maxBufferedBytes: 1 << 20 });
/** What each subscriber's response was asked to write, by subscriber name (the `s` query). */
const writes = new Map<string, (string | Buffer)[]>();
const filters: Record<string, EventFilter> = {
  a: {}, b: {}, opened: { types: new Set<EventType>(['mutex.opened']) },
};

const server = createServer((req, res: ServerResponse) => {
  const name = new URL(req.url!, 'http://x').searchParams.get('s')!;
  const seen: (string | Buffer)[] = [];
  writes.set(name, seen);
  const write = res.write.bind(res) as (chunk: string | Buffer) => boolean;
  res.write = ((chunk: string | Buffer) => { seen.push(chunk); return write(chunk); }) as typeof res.write;
  hub.open(res, filters[name]!, { kind: 'live' });
});

/** How long a subscriber waits for what it expects before the test fails. */
const WAIT_MS = 30_000;

interface Received { text: string; waitFor(predicate: (text: string) => boolean): Promise<void> }

function subscribe(name: string): Promise<Received> {
  return new Promise((resolve, reject) => {
    const received: Received = {
      text: '',
      waitFor: (predicate) => new Promise((done, fail) => {
        const deadline = Date.now() + WAIT_MS;
        const check = () => {
          if (predicate(received.text)) done();
          else if (Date.now() > deadline) fail(new Error(`not received within ${WAIT_MS} ms; got:\n${received.text}`));
          else setTimeout(check, 5);
        };
        check();
      }),
    };
    const port = (server.address() as { port: number }).port;
    request(`http://127.0.0.1:${port}/?s=${name}`, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { received.text += chunk; });
      void received.waitFor((text) => text.includes('\n\n')).then(() => resolve(received));
    }).on('error', reject).end();
  });
}

const publish = (type: EventType, name: string) =>
  log.publish(type, new Date(0).toISOString(), { mutex: { name } as MutexView }, { mutex: name, workId: null });

describe('SseHub', () => {
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  after(async () => {
    hub.endAll();
    server.close();
    await once(server, 'close');
  });

  it('writes what one turn published as one chunk per subscriber, in order, filtered, shared between equal subscribers', async () => {
    const [a, b, opened] = await Promise.all([subscribe('a'), subscribe('b'), subscribe('opened')]);
    const before = { a: writes.get('a')!.length, b: writes.get('b')!.length, opened: writes.get('opened')!.length };
    publish('mutex.opened', 'Local\\one');
    publish('mutex.closed', 'Local\\one');
    publish('mutex.opened', 'Local\\two');
    const lastSeq = log.lastSeq;
    await Promise.all([a, b, opened].map((r) => r.waitFor((text) => text.includes(`id: boot1-${lastSeq}\n`))));

    const chunkA = writes.get('a')!.slice(before.a);
    const chunkB = writes.get('b')!.slice(before.b);
    assert.equal(chunkA.length, 1, 'one write for three events');
    assert.equal(chunkA[0], chunkB[0], 'both unfiltered subscribers were given the same encoded chunk');
    assert.deepEqual([...a.text.matchAll(/^id: boot1-(\d+)$/gm)].map((m) => Number(m[1])), [lastSeq - 2, lastSeq - 1, lastSeq]);

    assert.equal(writes.get('opened')!.length - before.opened, 1);
    assert.deepEqual([...opened.text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]), ['mutex.opened', 'mutex.opened']);
  });

  it('sends events of a later turn in a later write', async () => {
    const received = await subscribe('a');
    const a = writes.get('a')!;
    const before = a.length;
    publish('mutex.opened', 'Local\\three');
    await received.waitFor((text) => text.includes('Local\\\\three'));
    publish('mutex.opened', 'Local\\four');
    await received.waitFor((text) => text.includes('Local\\\\four'));
    assert.equal(a.length - before, 2);
  });
});
