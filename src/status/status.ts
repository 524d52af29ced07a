/**
 * The /v1/status document and its strong ETag. The document holds only state (no
 * clock readings), so two reads with nothing happening in between are byte-identical
 * and a poll with If-None-Match gets 304; any event (or a pool change) changes it.
 */
import { createHash } from 'node:crypto';
import type { StatusView } from '../schemas/status.js';
import type { Services } from '../services.js';
import { readiness } from './readiness.js';

export function buildStatus(services: Services): StatusView {
  const { engine, mutexes, semaphores, eventObjects, totals, events, sse, clock, lifecycle } = services;
  const held: StatusView['mutexes']['held'] = [];
  for (const record of mutexes.all()) {
    if (record.holder === null) continue;
    held.push({
      name: record.name,
      workId: record.holder.workId,
      threadId: record.holder.threadId,
      fencingToken: record.fencingToken,
      since: clock.iso(record.holder.sinceNs),
      waiting: record.waiting,
      queued: record.queued,
    });
  }
  held.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    status: lifecycle.state,
    boot: events.boot,
    engine: { kind: engine.info.kind, nameScope: engine.info.nameScope, healthy: readiness(services).status === 'ready' },
    works: { ...totals.unfinished(), submitted: totals.submitted, finished: totals.finished() },
    leases: { active: services.work.leasedCount, expired: services.work.leaseExpiredCount },
    mutexes: { open: mutexes.size, held },
    semaphores: { open: semaphores.size, held: heldSemaphores(services) },
    eventObjects: { open: eventObjects.size, pendingSetters: [...eventObjects.all()].reduce((n, r) => n + r.pendingSetters, 0) },
    pool: services.pool.view(),
    events: { lastSeq: events.lastSeq, subscribers: sse.size },
  };
}

function heldSemaphores(services: Services): StatusView['semaphores']['held'] {
  const held: StatusView['semaphores']['held'] = [];
  for (const record of services.semaphores.all()) {
    if (record.holders.size === 0) continue;
    held.push({ name: record.name, holders: record.holders.size, maximumCount: record.maximumCount, waiting: record.waiting, queued: record.queued });
  }
  return held.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A strong validator: a digest of the exact bytes sent. */
export function strongEtag(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/**
 * If-None-Match (RFC 9110 §13.1.2): `*`, or a list of entity tags compared weakly
 * (a W/ prefix is ignored). True when the client's copy is current.
 */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque);
}
