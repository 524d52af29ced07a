/**
 * The event iterator against a scripted SSE server (a real HTTP listener): what the
 * service does rarely and on its own schedule — an overflow, a stream that goes silent,
 * a shedding 503 — is played here on cue.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { it } from 'node:test';
import { TpmutexClient, type EventFrame } from '../../src/client/index.js';

type Script = (req: IncomingMessage, res: ServerResponse, connection: number) => void;

async function scripted(script: Script): Promise<{ client: TpmutexClient; headers: IncomingMessage['headers'][]; close(): Promise<void> }> {
  const headers: IncomingMessage['headers'][] = [];
  const server = createServer((req, res) => { headers.push(req.headers); script(req, res, headers.length); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    client: new TpmutexClient({ baseUrl: `http://127.0.0.1:${port}` }),
    headers,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const stream = (res: ServerResponse, frames: string): void => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(`: test boot=b lastSeq=0\nretry: 10\n\n${frames}`);
};
const event = (seq: number): string => `id: b-${seq}\nevent: mutex.opened\ndata: ${JSON.stringify({ seq, type: 'mutex.opened', at: new Date(0).toISOString() })}\n\n`;

it('surfaces an overflow and resumes after its lastEventId', async () => {
  const sse = await scripted((_req, res, connection) => {
    if (connection === 1) {
      stream(res, `${event(1)}event: overflow\r\ndata: {"type":"overflow","reason":"slow","lastEventId":"b-1"}\r\n\r\n`);
      res.end();
    } else {
      stream(res, event(2));
    }
  });
  try {
    const frames: EventFrame[] = [];
    for await (const frame of sse.client.events()) {
      frames.push(frame);
      if (frames.length === 3) break;
    }
    assert.deepEqual(frames.map((f) => f.type), ['mutex.opened', 'overflow', 'mutex.opened']);
    assert.deepEqual(frames.map((f) => ('seq' in f ? f.seq : f.type)), [1, 'overflow', 2]);
    assert.equal(sse.headers[1]?.['last-event-id'], 'b-1');
  } finally {
    await sse.close();
  }
});

it('reconnects when the stream goes silent, and after a 503 once Retry-After has passed', async () => {
  const sse = await scripted((_req, res, connection) => {
    if (connection === 1) stream(res, event(1)); // then nothing: no heartbeat either
    else if (connection === 2) res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '0' }).end(JSON.stringify({ type: 'urn:tpmutex:problem:overloaded', title: 'Overloaded', status: 503, detail: 'busy' }));
    else stream(res, event(2));
  });
  try {
    const seqs: number[] = [];
    for await (const frame of sse.client.events({ idleTimeoutMs: 200 })) {
      if ('seq' in frame) seqs.push(frame.seq);
      if (seqs.length === 2) break;
    }
    assert.deepEqual(seqs, [1, 2]);
    assert.equal(sse.headers.length, 3);
    assert.equal(sse.headers[2]?.['last-event-id'], 'b-1');
  } finally {
    await sse.close();
  }
});

it('stops without an error when its signal aborts', async () => {
  const sse = await scripted((_req, res) => stream(res, event(1)));
  try {
    const stop = new AbortController();
    const frames: EventFrame[] = [];
    for await (const frame of sse.client.events({ signal: stop.signal })) {
      frames.push(frame);
      stop.abort();
    }
    assert.equal(frames.length, 1);
  } finally {
    await sse.close();
  }
});
