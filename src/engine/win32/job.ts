/**
 * The win32 engine's per-work record, its Job (docs/design.md §2.4 glossary), and the
 * open objects jobs are launched with.
 */
import type { AbandonSpec, WorkSpec } from '../types.js';
import type { HANDLE, PVOID } from './native.js';

/**
 * pending: in the engine's FIFO, waiting for room in the pool; submitted: in the
 * Windows pool, callback not started (pending and submitted are the API's `queued`);
 * then the steps the packets report; ended: its terminal phase is decided.
 */
export type JobStage = 'pending' | 'submitted' | 'started' | 'acquired' | 'returned' | 'ended';

/**
 * What a job does: a pool work (acquire a mutex, a semaphore unit or nothing), or an
 * abandon on a dedicated thread (TPM_KIND_ABANDON).
 */
export type JobKind = 'mutex' | 'semaphore' | 'none' | 'abandon';

export interface Job {
  readonly spec: WorkSpec;
  readonly kind: JobKind;
  /** The mutex or semaphore it acquires (stays open while the work has not ended); undefined for `none`. */
  readonly object: OpenObject | undefined;
  /** The event the pool sets when it returns (setEventOnReturn), if any. */
  readonly event: OpenObject | undefined;
  stage: JobStage;
  /** Its native job slot, from launch until the handback. */
  slot: JobSlot | undefined;
  /** A signal that came while pending, passed on at submission. */
  signaledEarly: boolean;
  /** Its fencing token (acquisition sequence number for a semaphore) once acquired (0 before). */
  token: number;
}

/** An abandon job's spec as a WorkSpec (no spin, no hold, no event). */
export function abandonWorkSpec(spec: AbandonSpec): WorkSpec {
  return {
    workId: spec.workId, acquire: { kind: 'mutex', name: spec.mutex }, setEventOnReturn: null,
    acquireTimeoutMs: spec.acquireTimeoutMs, spinMs: 0, holdMs: 0, mayRunLong: false,
  };
}

/** A recyclable native job record (tpm_job_t) with its events and thread-pool objects. */
export interface JobSlot {
  readonly index: number;
  readonly record: PVOID;
  readonly signal: HANDLE;
  readonly done: HANDLE;
  readonly work: HANDLE;
  readonly wait: HANDLE;
  /** The completion key of the current launch (0n while free). */
  key: bigint;
  /** Set from launch until the wait callback's packet hands the record back. */
  job: Job | undefined;
  /** An abandon job's thread handle, closed at the handback (0n otherwise). */
  thread: HANDLE;
}

export type ObjectKind = 'mutex' | 'semaphore' | 'event';

export interface OpenObject {
  readonly kind: ObjectKind;
  readonly handle: HANDLE;
  /** The object's name in the object manager (NtQueryObject). */
  readonly kernelName: string;
  /** The names it is open under: spellings with one kernel name share one handle and one counter. */
  readonly names: string[];
  /** tpm_mutex_t: the handle and the native fencing counter (mutex, semaphore); 0n for an event. */
  readonly record: PVOID;
  /** A semaphore's own maximum (NtQuerySemaphore at open); 0 for other kinds. */
  readonly maximumCount: number;
  /** Works on it without a terminal phase (pending or in the pool): close refuses while any. */
  unended: number;
  /** Job slots launched with it and not handed back: the handle stays open while any. */
  launched: number;
  /** Closed by name; the handle closes at the last handback. */
  closed: boolean;
}
