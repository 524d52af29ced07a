/**
 * The win32 engine's per-work record, its Job (docs/design.md §2.4 glossary), and the
 * open mutex jobs are launched with.
 */
import type { WorkSpec } from '../types.js';
import type { HANDLE, PVOID } from './native.js';

/**
 * pending: in the engine's FIFO, waiting for room in the pool; submitted: in the
 * Windows pool, callback not started (pending and submitted are the API's `queued`);
 * then the steps the packets report; ended: its terminal phase is decided.
 */
export type JobStage = 'pending' | 'submitted' | 'started' | 'acquired' | 'returned' | 'ended';

export interface Job {
  readonly spec: WorkSpec;
  /** The mutex it was submitted with (stays open while the work has not ended). */
  readonly mutex: OpenMutex;
  stage: JobStage;
  /** Its native job slot, from launch until the handback. */
  slot: JobSlot | undefined;
  /** A signal that came while pending, passed on at submission. */
  signaledEarly: boolean;
  /** Its fencing token once acquired (0 before). */
  token: number;
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
}

export interface OpenMutex {
  readonly handle: HANDLE;
  /** The object's name in the object manager (NtQueryObject). */
  readonly kernelName: string;
  /** The names it is open under: spellings with one kernel name share one handle and one fencing counter. */
  readonly names: Set<string>;
  /** tpm_mutex_t: the handle and the native fencing counter. */
  readonly record: PVOID;
  /** Works on it without a terminal phase (pending or in the pool): closeMutex refuses while any. */
  unended: number;
  /** Job slots launched with it and not handed back: the handle stays open while any. */
  launched: number;
  /** closeMutex was called; the handle closes at the last handback. */
  closed: boolean;
}

