/**
 * A small HTTP client for the suites: JSON in, status + headers + parsed body out.
 * It never throws on a status, so tests can assert on 4xx answers.
 */
import type { MutexView } from '../../src/schemas/mutex.js';
import type { WorkView } from '../../src/schemas/work.js';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface Problem {
  type: string; title: string; status: number; detail: string;
  errors?: { field: string; message: string }[];
  limit?: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is, with no JSON encoding (for malformed-input tests). */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export const enc = (name: string) => encodeURIComponent(name);

export class Api {
  constructor(readonly baseUrl: string) {}

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Buffer | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text.length > 0) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if ((await this.request('GET', '/readyz')).status === 200) return;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`${this.baseUrl} not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  submit(body: Record<string, unknown>, headers: Record<string, string> = {}) {
    return this.request<WorkView>('POST', '/v1/work', { body, headers });
  }

  /** Submits and asserts 202; returns the work. */
  async submitOk(body: Record<string, unknown>): Promise<WorkView> {
    const res = await this.submit(body);
    if (res.status !== 202) throw new Error(`submit ${JSON.stringify(body)} → ${res.status} ${res.text}`);
    return res.body;
  }

  work(id: string) { return this.request<WorkView>('GET', `/v1/work/${enc(id)}`); }

  async waitTerminal(id: string, timeoutMs = 60_000): Promise<WorkView> {
    const res = await this.request<WorkView>('GET', `/v1/work/${enc(id)}?wait=terminal&timeoutMs=${timeoutMs}`);
    if (res.status !== 200) throw new Error(`wait ${id} → ${res.status} ${res.text}`);
    return res.body;
  }

  /** The Prometheus exposition text of /metrics. */
  async metrics(): Promise<string> {
    const res = await this.request<string>('GET', '/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics → ${res.status} ${res.text}`);
    return res.text;
  }

  signal(id: string) { return this.request<WorkView>('POST', `/v1/work/${enc(id)}/signal`); }
  cancel(id: string) { return this.request<WorkView>('DELETE', `/v1/work/${enc(id)}`); }
  putMutex(name: string) { return this.request<MutexView>('PUT', `/v1/mutexes/${enc(name)}`); }
  mutex(name: string) { return this.request<MutexView>('GET', `/v1/mutexes/${enc(name)}`); }
  deleteMutex(name: string) { return this.request<MutexView>('DELETE', `/v1/mutexes/${enc(name)}`); }

  /** Every item of a paginated list, following nextCursor. */
  async listAll<T>(path: string, pageSize = 1000): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res: ApiResponse<{ items: T[]; nextCursor: string | null }> =
        await this.request('GET', `${path}${sep}limit=${pageSize}${cursor ? `&cursor=${cursor}` : ''}`);
      if (res.status !== 200) throw new Error(`GET ${path} → ${res.status} ${res.text}`);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    return items;
  }
}

/** A unique name per test run, so suites can share one server. */
let counter = 0;
const runId = Math.random().toString(36).slice(2, 8);
export function uniqueName(prefix: string, scope: 'Global' | 'Local' | 'bare' = 'Local'): string {
  const base = `tpmutex-test-${runId}-${prefix}-${++counter}`;
  return scope === 'bare' ? base : `${scope}\\${base}`;
}
