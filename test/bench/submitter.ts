/**
 * A lean POST /v1/work client for the load the benchmarks generate: node:http on
 * keep-alive connections. fetch (undici) costs this process about two thirds of a core
 * at 1,000 submits/s, which on a 2-core machine is taken from the service under test.
 */
import { Agent, request } from 'node:http';
import type { WorkView } from '../../src/schemas/work.js';

export class Submitter {
  // Enough sockets that the client never caps a steady offered load: at 1,000/s a
  // 64-socket cap throttles as soon as answers take 64 ms (eventLatency reports the rate
  // achieved, and marks a run below 95% of its target invalid).
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly url: URL;

  constructor(baseUrl: string) {
    this.url = new URL('/v1/work', baseUrl);
  }

  /** POST /v1/work; resolves with the work, rejects unless the answer is 202. */
  submit(body: Record<string, unknown>): Promise<WorkView> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(this.url, {
        method: 'POST', agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 202) resolve(JSON.parse(text) as WorkView);
          else reject(new Error(`POST /v1/work ${payload} → ${res.statusCode} ${text}`));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
