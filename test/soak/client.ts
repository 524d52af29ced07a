/**
 * The soak's HTTP client: node:http on keep-alive sockets (fetch costs this process far
 * more per request, and this process shares the machine with the service). Every
 * answer is tallied: 5xx, transport errors, and answers outside what the caller said
 * to expect, with the first few of each kept for the report.
 */
import { Agent, request } from 'node:http';

export interface Answer { status: number; text: string }
export interface Tally { requests: number; serverErrors: number; transportErrors: number; unexpected: number; examples: string[] }

const MAX_EXAMPLES = 10;

export class SoakClient {
  readonly tally: Tally = { requests: 0, serverErrors: 0, transportErrors: 0, unexpected: 0, examples: [] };
  // A fixed set of connections, each reused in turn (fifo), so that none idles long
  // enough for the server to close it: the sockets are OS handles of the service too,
  // and a pool that grows and shrinks with the load would move the handle count.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 32, scheduling: 'fifo' });

  constructor(readonly baseUrl: string) {}

  /**
   * Sends one request; `expect` lists the statuses this call may legitimately get (a
   * 5xx never is one). Resolves with the answer whatever it was; undefined on a
   * transport error.
   */
  async call(method: string, path: string, expect: readonly number[], options: { body?: string | object; headers?: Record<string, string> } = {}): Promise<Answer | undefined> {
    this.tally.requests++;
    const payload = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const headers: Record<string, string | number> = { ...options.headers };
    if (payload !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    let answer: Answer;
    try {
      answer = await new Promise<Answer>((resolve, reject) => {
        const req = request(new URL(path, this.baseUrl), { method, agent: this.agent, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(payload);
      });
    } catch (err) {
      // A server that closes a connection after answering a bad request (431, 413 of a
      // body it does not read) is doing its job; the request was still answered or refused.
      this.tally.transportErrors++;
      this.note(`${method} ${path.slice(0, 80)}: ${(err as Error).message}`);
      return undefined;
    }
    if (answer.status >= 500) {
      this.tally.serverErrors++;
      this.note(`${method} ${path.slice(0, 80)} → ${answer.status} ${answer.text.slice(0, 200)}`);
    } else if (!expect.includes(answer.status)) {
      this.tally.unexpected++;
      this.note(`${method} ${path.slice(0, 80)} → ${answer.status} (expected ${expect.join('/')}) ${answer.text.slice(0, 200)}`);
    }
    return answer;
  }

  private note(line: string): void {
    if (this.tally.examples.length < MAX_EXAMPLES) this.tally.examples.push(line);
  }

  close(): void {
    this.agent.destroy();
  }
}
