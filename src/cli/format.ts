/** How the CLI prints what the service answered: readable lines, or JSON with --json. */
import type { EventFrame, EventObject, Mutex, Semaphore, Status, Work } from '../client/index.js';

/** What a work acquires (a mutex or a semaphore), else the event object it sets on return. */
export const objectOf = (work: Work): string => work.resource?.name ?? work.setEventOnReturn ?? work.mutex ?? '-';

export function workLine(work: Work): string {
  return [
    work.id, work.state, objectOf(work),
    `token=${work.fencingToken ?? '-'}`,
    ...(work.abandoned === true ? ['abandoned'] : []),
    ...(work.leaseExpired ? ['lease-expired'] : []),
    ...(work.label === null ? [] : [`label=${JSON.stringify(work.label)}`]),
    ...(work.error === null ? [] : [`error=${JSON.stringify(work.error.detail)}`]),
  ].join(' ');
}

export function mutexLine(mutex: Mutex): string {
  return [
    mutex.name, mutex.state,
    `holder=${mutex.holder?.workId ?? '-'}`, `waiting=${mutex.waiting}`, `queued=${mutex.queued}`, `token=${mutex.fencingToken}`,
  ].join(' ');
}

export function semaphoreLine(semaphore: Semaphore): string {
  return [
    semaphore.name, `count=${semaphore.count}/${semaphore.maximumCount}`,
    `holders=${semaphore.holders.map((h) => h.workId).join(',') || '-'}`, `waiting=${semaphore.waiting}`, `queued=${semaphore.queued}`,
  ].join(' ');
}

export function eventObjectLine(event: EventObject): string {
  return [
    event.name, event.signaled ? 'signaled' : 'nonsignaled', event.manualReset ? 'manual-reset' : 'auto-reset',
    `pending-setters=${event.counters.pendingSetters}`,
  ].join(' ');
}

/** The line of an object just opened: `created` by this call, or it `existed` (here or in the OS). */
export const openedLine = <T>(line: (object: T) => string, object: T & { created: boolean }): string => `${line(object)} ${object.created ? 'created' : 'existed'}`;

export function statusLines(status: Status): string[] {
  const { works } = status;
  return [
    `status ${status.status}, boot ${status.boot}, engine ${status.engine.kind}${status.engine.healthy ? '' : ' (unhealthy)'}`,
    `works: ${works.queued} queued, ${works.waiting} waiting, ${works.holding} holding; ${works.submitted} submitted, ${works.finished.released} released, ${works.finished.abandoned > 0 ? `${works.finished.abandoned} abandoned, ` : ''}${works.finished.timed_out} timed out, ${works.finished.cancelled} cancelled, ${works.finished.failed} failed`,
    `leases: ${status.leases.active} active, ${status.leases.expired} expired`,
    `mutexes: ${status.mutexes.open} open, ${status.mutexes.held.length} held`,
    ...status.mutexes.held.map((held) => `  ${held.name} held by ${held.workId} since ${held.since} (token ${held.fencingToken}, ${held.waiting} waiting)`),
    `semaphores: ${status.semaphores.open} open, ${status.semaphores.held.length} with units held here`,
    ...status.semaphores.held.map((held) => `  ${held.name} ${held.holders} of ${held.maximumCount} units held here (${held.waiting} waiting)`),
    `event objects: ${status.eventObjects.open} open, ${status.eventObjects.pendingSetters} unfinished works set one on return`,
    `pool: ${status.pool.threads} threads (${status.pool.minThreads}..${status.pool.maxThreads}), ${status.pool.active} active, ${status.pool.queued} queued`,
    `events: last seq ${status.events.lastSeq}, ${status.events.subscribers} subscribers`,
  ];
}

/** One frame of `watch` for a person: time, seq, type, and what it is about. */
export function frameLine(frame: EventFrame): string {
  if (frame.type === 'reset') return `-- reset: ${frame.reason} (replaying from seq ${frame.oldestSeq})`;
  if (frame.type === 'overflow') return `-- overflow: ${frame.reason} (resuming after ${frame.lastEventId})`;
  const time = frame.at.slice(11, 23);
  const about = frame.work !== undefined
    ? `${objectOf(frame.work)} work=${frame.work.id}${frame.work.fencingToken === null ? '' : ` token=${frame.work.fencingToken}`}${frame.work.threadId === null ? '' : ` thread=${frame.work.threadId}`}${frame.work.label === null ? '' : ` label=${JSON.stringify(frame.work.label)}`}`
    : frame.mutex?.name ?? frame.semaphore?.name ?? frame.eventObject?.name ?? '';
  return `${time} #${frame.seq} ${frame.type.padEnd(19)} ${about}`;
}
