/**
 * What the engine and the shim (src/native/shim.c) agree on: packet kinds, record
 * fields and flags, without loading anything native, so the engine's packet handling
 * can also run against a fake native layer (test/engine/win32-fake-native.ts).
 * Every number here must equal its twin in shim.c.
 */

/** Must equal TPM_ABI_VERSION in shim.c. */
export const TPM_ABI_VERSION = 4;

/** One completion-port packet as the shim posts it, decoded from its OVERLAPPED_ENTRY. */
export interface Packet {
  /** lpCompletionKey: the job slot and the launch generation (see packets.ts). */
  readonly key: bigint;
  /** dwNumberOfBytesTransferred: TPM_PACKET_*. */
  readonly kind: number;
  /** lpOverlapped: the QueryPerformanceCounter stamp of the step. */
  readonly qpc: bigint;
}

/**
 * Completion key of the wake-up packet that ends the drain (the engine posts it last at
 * shutdown). Launch generations start at 1, so no job's packet has it.
 */
export const DRAIN_STOP_KEY = 0n;

/** Packet kinds (dwNumberOfBytesTransferred), as in shim.c. */
export const TPM_PACKET_STARTED = 1;
export const TPM_PACKET_ACQUIRED = 2;
export const TPM_PACKET_RETURNED = 3;
export const TPM_PACKET_RELEASED = 4;
export const TPM_PACKET_TIMED_OUT = 5;
export const TPM_PACKET_CANCELLED = 6;
export const TPM_PACKET_FAILED = 7;
export const TPM_PACKET_RETIRED = 8;
/** Wait callback on an abandon job's thread handle: the thread exited owning the mutex. A handback. */
export const TPM_PACKET_ABANDONED = 9;

/** tpm_job_t.kind, as in shim.c. */
export const TPM_KIND_NONE = 0;
export const TPM_KIND_MUTEX = 1;
export const TPM_KIND_SEMAPHORE = 2;
export const TPM_KIND_ABANDON = 3;

/** tpm_job_t.actions: the callback-return actions a callback registered, as in shim.c. */
export const TPM_ACTION_SET_EVENT = 1;
export const TPM_ACTION_RELEASE_MUTEX = 2;
export const TPM_ACTION_RELEASE_SEMAPHORE = 4;
/** The shim's own `done` notice through the pool (an event action, never reported). */
export const TPM_ACTION_NOTICE_EVENT = 8;

/** tpm_job_t.error_fn, as in shim.c. */
export const TPM_FN_NAMES: Readonly<Record<number, string>> = {
  1: 'WaitForMultipleObjects',
  2: 'WaitForSingleObject',
  3: 'ResetEvent',
};
/** tpm_job_t.error_fn when checked mode refused a step (tpm_job_t.rule says which). */
export const TPM_FN_CHECKED_RULE = 4;

/** tpm_job_t.checks: TPM_CHECKED turns the checks on; TPM_BREAK_* (honoured only with it) break a rule on purpose. */
export const TPM_CHECKED = 1;
export const TPM_BREAK_ACTION_TWICE = 2;
export const TPM_BREAK_RELEASE_NOT_OWNED = 4;
export const TPM_BREAK_HANDLE_CLOSED = 8;
/** tpm_job_cancel posts CANCELLED only after the callback saw the cancel and returned (the late-packet race, on purpose). */
export const TPM_TEST_LATE_CANCEL_POST = 16;
/** tpm_job_abort returns only once the job's thread woke on the abort (a holder's hold has seen it and sleeps on). */
export const TPM_TEST_ABORT_TAKEN = 32;

/** tpm_job_t.rule, as in shim.c. */
export const TPM_RULE_ACTION_TWICE = 1;
export const TPM_RULE_RELEASE_NOT_OWNED = 2;
export const TPM_RULE_HANDLE_CLOSED = 3;
export const TPM_RULE_SEMAPHORE_LIMIT = 4;

/** The decoded record (int64 fields come as number when they fit, else bigint). */
export interface TpmJob {
  port: bigint | null;
  key: bigint | number;
  mutex: bigint | null;
  signal: bigint | null;
  done: bigint | null;
  acquire_timeout_ms: number;
  spin_ms: number;
  hold_ms: number;
  may_run_long: number;
  state: number;
  signal_requested: number;
  cancel_requested: number;
  thread_id: number;
  may_run_long_result: number;
  wait_result: number;
  owned: number;
  abandoned: number;
  signaled: number;
  error: number;
  error_fn: number;
  post_error: number;
  checks: number;
  actions: number;
  rule: number;
  rule_status: number;
  rule_count: number;
  rule_owned: number;
  cancel_seen: number;
  fencing_token: number | bigint;
  started_qpc: number | bigint;
  acquired_qpc: number | bigint;
  returned_qpc: number | bigint;
  ended_qpc: number | bigint;
  /** TPM_KIND_*; `mutex` is the mutex or semaphore record (null for none). */
  kind: number;
  /** The event the pool sets on return (setEventOnReturn), or null. */
  user_event: bigint | null;
  /** The job's own TP_WORK (the wait callback waits for its epilog). */
  work: bigint | null;
  /** An abandon job's thread (written by tpm_abandon_start). */
  thread: bigint | null;
  /** The registered wait on an abandon job's thread (RegisterWaitForSingleObject). */
  exit_wait: bigint | null;
}


/** tpm_job_t.state: who got the job first, its callback or a cancel. */
export const TPM_JOB_QUEUED = 0;
export const TPM_JOB_STARTED = 1;
export const TPM_JOB_CANCELLED = 2;
