/**
 * Packet decoding: what a completion-port packet (protocol.ts) means for the work it is
 * about. A packet's completion key names the job slot and the launch that posted it; the
 * step's results (thread id, fencing token, errors...) are in the job record, written
 * by the shim before it posted the packet. No koffi here: the engine's packet handling
 * runs, and is tested, on any platform (test/engine/completion-packets.test.ts).
 */
import { EngineError } from '../errors.js';
import type { Ns, Phase, ReturnAction, TerminalPhase } from '../types.js';
import { toEngineError } from './engine-errors.js';
import {
  TPM_ACTION_RELEASE_MUTEX, TPM_ACTION_RELEASE_SEMAPHORE, TPM_ACTION_SET_EVENT,
  TPM_FN_CHECKED_RULE, TPM_FN_NAMES, TPM_JOB_CANCELLED, TPM_KIND_SEMAPHORE, TPM_PACKET_ABANDONED, TPM_PACKET_ACQUIRED, TPM_PACKET_CANCELLED,
  TPM_PACKET_FAILED, TPM_PACKET_RELEASED, TPM_PACKET_RETIRED, TPM_PACKET_RETURNED, TPM_PACKET_STARTED, TPM_PACKET_TIMED_OUT,
  TPM_RULE_ACTION_TWICE, TPM_RULE_HANDLE_CLOSED, TPM_RULE_RELEASE_NOT_OWNED, TPM_RULE_SEMAPHORE_LIMIT, type TpmJob,
} from './protocol.js';
import { Win32Error } from './win32-error.js';

/** A completion key: the slot index in the low bits, the launch generation above. */
const SLOT_BITS = 16n;
const SLOT_MASK = (1n << SLOT_BITS) - 1n;
/** Job slots one engine can have. */
export const MAX_JOB_SLOTS = Number(SLOT_MASK) + 1;

/** The key of launch `generation` (1, 2, ...) into slot `index`. */
export function launchKey(generation: bigint, index: number): bigint {
  return (generation << SLOT_BITS) | BigInt(index);
}

export function slotIndexOf(key: bigint): number {
  return Number(key & SLOT_MASK);
}

/** The wait callback's packets: no pool thread touches the record any more. */
export function isHandback(kind: number): boolean {
  return kind === TPM_PACKET_RELEASED || kind === TPM_PACKET_RETIRED || kind === TPM_PACKET_ABANDONED;
}

/**
 * The return actions a callback registered (tpm_job_t.actions), in the order the pool
 * performs them (docs/design.md §1.3): Windows mutex → event → semaphore; Wine
 * (dlls/ntdll/threadpool.c tp_object_execute) mutex → semaphore → event.
 */
export function returnActions(actions: number, wine: boolean): ReturnAction[] {
  const out: ReturnAction[] = [];
  if ((actions & TPM_ACTION_RELEASE_MUTEX) !== 0) out.push('release_mutex');
  const event = (actions & TPM_ACTION_SET_EVENT) !== 0;
  const semaphore = (actions & TPM_ACTION_RELEASE_SEMAPHORE) !== 0;
  if (wine) {
    if (semaphore) out.push('release_semaphore');
    if (event) out.push('set_event');
  } else {
    if (event) out.push('set_event');
    if (semaphore) out.push('release_semaphore');
  }
  return out;
}

/** The phase a step packet (anything but a handback) reports, or undefined for an unknown kind. */
export function stepPhase(kind: number, workId: string, atNs: Ns, r: TpmJob): Phase | undefined {
  switch (kind) {
    case TPM_PACKET_STARTED:
      return { type: 'started', workId, atNs, threadId: r.thread_id, mayRunLong: r.may_run_long_result < 0 ? null : r.may_run_long_result === 1 };
    case TPM_PACKET_ACQUIRED:
      return { type: 'acquired', workId, atNs, threadId: r.thread_id, abandoned: r.abandoned !== 0, fencingToken: Number(r.fencing_token) };
    case TPM_PACKET_RETURNED:
      return { type: 'returned', workId, atNs, signaled: r.signaled !== 0 };
    case TPM_PACKET_TIMED_OUT:
      return { type: 'timed_out', workId, atNs };
    case TPM_PACKET_CANCELLED:
      return { type: 'cancelled', workId, atNs };
    case TPM_PACKET_FAILED: {
      const error = r.error_fn === TPM_FN_CHECKED_RULE ? ruleError(r) : toEngineError(new Win32Error(r.error, TPM_FN_NAMES[r.error_fn] ?? 'tpmutex-shim'));
      return { type: 'failed', workId, atNs, error };
    }
    default:
      return undefined;
  }
}

/**
 * The terminal phase a handback reports for a work that has not ended: `released` (or
 * the rule checked mode refused) after RELEASED; after RETIRED, the callback returned
 * owning nothing and no terminal packet of its own came first — either a cancel won
 * the queued→cancelled exchange and its CANCELLED packet is still on the way (it will
 * be stale when it comes), or a post failed.
 */
export function handbackPhase(kind: number, workId: string, atNs: Ns, r: TpmJob, toNs: (qpc: bigint) => Ns, wine = false): TerminalPhase {
  if (r.rule !== 0) return { type: 'failed', workId, atNs, error: ruleError(r) };
  if (kind === TPM_PACKET_RELEASED) return { type: 'released', workId, atNs, actions: returnActions(r.actions, wine) };
  if (kind === TPM_PACKET_ABANDONED) return { type: 'abandoned', workId, atNs };
  if (r.state === TPM_JOB_CANCELLED) {
    const endedQpc = BigInt(r.ended_qpc);
    return { type: 'cancelled', workId, atNs: endedQpc > 0n ? toNs(endedQpc) : atNs };
  }
  const error = r.post_error !== 0
    ? toEngineError(new Win32Error(r.post_error, 'PostQueuedCompletionStatus'))
    : new EngineError('os_error', `the callback of work ${workId} returned without reporting its outcome`);
  return { type: 'failed', workId, atNs, error };
}

/** A step checked mode refused: the Windows rule it would have broken, in words. */
function ruleError(r: TpmJob): EngineError {
  const semaphore = r.kind === TPM_KIND_SEMAPHORE;
  const status = `status 0x${(r.rule_status >>> 0).toString(16).padStart(8, '0')}`;
  const seen = semaphore
    ? `NtQuerySemaphore ${status}, CurrentCount ${r.rule_count}, MaximumCount ${r.rule_owned}`
    : `NtQueryMutant ${status}, OwnedByCaller ${r.rule_owned}, CurrentCount ${r.rule_count}`;
  const release = semaphore ? 'ReleaseSemaphoreWhenCallbackReturns' : 'ReleaseMutexWhenCallbackReturns';
  const text: Record<number, [string, string]> = {
    [TPM_RULE_ACTION_TWICE]: [release,
      'registering the same callback-return action twice in one callback would raise an exception on Windows (one action of each kind per callback); the second one was not registered'],
    [TPM_RULE_SEMAPHORE_LIMIT]: [release,
      `the pool's release of the semaphore unit would exceed its maximum (${seen}) and raise an exception on Windows; it was not registered`],
    [TPM_RULE_RELEASE_NOT_OWNED]: ['ReleaseMutexWhenCallbackReturns',
      `ReleaseMutexWhenCallbackReturns on a mutex this thread does not own exactly once (${seen}) would raise STATUS_THREADPOOL_RELEASE_MUTEX_ON_COMPLETION_FAILED on Windows; it was not registered`],
    [TPM_RULE_HANDLE_CLOSED]: [release,
      `the pool releasing a ${semaphore ? 'semaphore' : 'mutex'} handle that is not open (${seen}) would raise an exception on Windows`],
  };
  const [fn, detail] = text[r.rule] ?? ['tpmutex-shim', `checked mode refused a step (rule ${r.rule})`];
  return new EngineError('rule_violation', `checked mode: ${detail}`, { fn });
}
