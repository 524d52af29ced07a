/**
 * Invariant checks over what a client observed (docs/design.md §4), shared by the suites.
 */
import assert from 'node:assert/strict';
import type { MutexView } from '../../src/schemas/mutex.js';
import type { WorkView } from '../../src/schemas/work.js';
import type { Api } from './api.js';
import { SseClient, type SseFrame } from './sse.js';

export const TERMINAL_EVENTS = new Set(['work.released', 'work.timed_out', 'work.cancelled', 'work.failed']);
const LIFECYCLE = ['work.queued', 'work.started', 'work.acquired', 'work.returned', 'work.released'];

type EventJson = SseFrame['json'];
const workOf = (e: EventJson) => e['work'] as WorkView;

/** seq strictly increasing in the order received. */
export function assertSeqIncreasing(events: EventJson[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]!.seq! > events[i - 1]!.seq!, `seq must increase: ${events[i - 1]!.seq} then ${events[i]!.seq}`);
  }
}

/** Each work: exactly one terminal event, and its events in lifecycle order. */
export function assertLifecycles(events: EventJson[], workIds: readonly string[]): void {
  const byWork = new Map<string, string[]>(workIds.map((id) => [id, []]));
  for (const e of events) {
    if (!String(e.type).startsWith('work.')) continue;
    byWork.get(workOf(e).id)?.push(String(e.type));
  }
  for (const [id, types] of byWork) {
    const terminals = types.filter((t) => TERMINAL_EVENTS.has(t));
    assert.equal(terminals.length, 1, `work ${id} must have exactly one terminal event, got ${types.join(' ')}`);
    assert.equal(TERMINAL_EVENTS.has(types.at(-1)!), true, `work ${id}: the terminal event comes last: ${types.join(' ')}`);
    const happy = types.filter((t) => LIFECYCLE.includes(t));
    const positions = happy.map((t) => LIFECYCLE.indexOf(t));
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b), `work ${id}: lifecycle order: ${types.join(' ')}`);
    assert.equal(new Set(happy).size, happy.length, `work ${id}: no repeated step: ${types.join(' ')}`);
  }
}

/**
 * Mutual exclusion seen from outside: per mutex, acquired/released alternate in the
 * stream and belong to the same work, [acquiredAtNs, releasedAtNs] intervals do not
 * overlap, and fencing tokens increase with each acquisition.
 */
export function assertMutualExclusion(events: EventJson[]): { acquisitions: number } {
  const perMutex = new Map<string, EventJson[]>();
  for (const e of events) {
    if (e.type !== 'work.acquired' && e.type !== 'work.released') continue;
    const name = workOf(e).mutex;
    if (name === null) continue; // a semaphore work, or one that acquires nothing
    perMutex.set(name, [...(perMutex.get(name) ?? []), e]);
  }
  let acquisitions = 0;
  for (const [name, seq] of perMutex) {
    let holder = null as WorkView | null;
    let lastReleasedNs = -1n;
    let lastToken = 0;
    for (const e of seq) {
      const w = workOf(e);
      if (e.type === 'work.acquired') {
        assert.equal(holder, null, `${name}: ${w.id} acquired while ${holder?.id} still held it`);
        assert.equal(w.invariantViolation ?? null, null, `${name}: the service reported a broken mutual exclusion: ${JSON.stringify(w.invariantViolation)}`);
        const acquiredNs = BigInt(w.acquiredAtNs!);
        assert.ok(acquiredNs >= lastReleasedNs, `${name}: ${w.id} acquired at ${acquiredNs} before the previous release at ${lastReleasedNs}`);
        assert.ok(w.fencingToken! > lastToken, `${name}: fencing token ${w.fencingToken} after ${lastToken}`);
        lastToken = w.fencingToken!;
        holder = w;
        acquisitions++;
      } else {
        assert.equal(holder?.id, w.id, `${name}: released by ${w.id} but held by ${holder?.id}`);
        const releasedNs = BigInt(w.releasedAtNs!);
        assert.ok(releasedNs >= BigInt(w.acquiredAtNs!), `${name}: ${w.id} released before it acquired`);
        lastReleasedNs = releasedNs;
        holder = null;
      }
    }
  }
  return { acquisitions };
}

export const ms = (fromNs: string | null, toNs: string | null): number => Number(BigInt(toNs!) - BigInt(fromNs!)) / 1e6;

/**
 * What a client can see of the server's state: open mutexes, retained works, the pool
 * limits and the last event seq. Equal snapshots before and after a batch of bad
 * requests mean they changed nothing.
 */
export async function stateSnapshot(api: Api, baseUrl: string) {
  const probe = await SseClient.open(baseUrl, '/v1/events?types=mutex.closed');
  probe.close();
  const pool = (await api.request<{ minThreads: number; maxThreads: number }>('GET', '/v1/pool')).body;
  return {
    mutexes: (await api.listAll<MutexView>('/v1/mutexes')).map((m) => m.name).sort(),
    works: (await api.listAll<WorkView>('/v1/work')).map((w) => w.id),
    pool: { minThreads: pool.minThreads, maxThreads: pool.maxThreads },
    lastSeq: Number(/lastSeq=(\d+)/.exec(probe.comments[0]!)![1]),
  };
}

/**
 * The value of one sample in a Prometheus text exposition: `name` with exactly these
 * labels (in any order), or the sum over every label set when labels is undefined.
 * Undefined when the metric has no such sample.
 */
export function metricValue(exposition: string, name: string, labels?: Record<string, string>): number | undefined {
  let found: number | undefined;
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (labels !== undefined) {
      const want = Object.entries(labels);
      if (want.length !== Object.keys(have).length || want.some(([k, v]) => have[k] !== v)) continue;
    }
    found = (found ?? 0) + Number(match[3]);
  }
  return found;
}
