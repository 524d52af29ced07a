/**
 * Bindings to the native thread-pool shim (src/native/shim.c), same conventions as
 * kernel32.ts: the records' koffi types mirror the C structs, and each wrapper is named
 * exactly like the exported C function. The shim's functions return 0 or a Win32 error
 * code (libuv style); a nonzero code throws Win32Error.
 */
import { existsSync } from 'node:fs';
import koffi, { type LibraryHandle } from 'koffi';
import { EngineError } from '../errors.js';
import { cDWORD, cHANDLE, cLONG, cPVOID, cULONG_PTR, type PVOID } from './kernel32.js';
import { shimCandidates } from './shim-path.js';
import { TPM_ABI_VERSION } from './protocol.js';
import { Win32Error } from './win32-error.js';

const cLONG64 = koffi.alias('LONG64', 'int64_t');

/** tpm_mutex_t */
export const cTpmMutex = koffi.struct('tpm_mutex_t', {
  handle: cHANDLE,
  fencing: cLONG64,
});

/** tpm_job_t — field for field as in shim.c. */
export const cTpmJob = koffi.struct('tpm_job_t', {
  port: cHANDLE,
  key: cULONG_PTR,
  mutex: cPVOID,
  signal: cHANDLE,
  done: cHANDLE,
  acquire_timeout_ms: cDWORD,
  spin_ms: cDWORD,
  hold_ms: cDWORD,
  may_run_long: cLONG,
  state: cLONG,
  signal_requested: cLONG,
  cancel_requested: cLONG,
  thread_id: cDWORD,
  may_run_long_result: cLONG,
  wait_result: cDWORD,
  owned: cLONG,
  abandoned: cLONG,
  signaled: cLONG,
  error: cDWORD,
  error_fn: cDWORD,
  post_error: cDWORD,
  checks: cLONG,
  actions: cLONG,
  rule: cLONG,
  rule_status: cLONG,
  rule_count: cLONG,
  rule_owned: cLONG,
  cancel_seen: cLONG,
  fencing_token: cLONG64,
  started_qpc: cLONG64,
  acquired_qpc: cLONG64,
  returned_qpc: cLONG64,
  ended_qpc: cLONG64,
  kind: cLONG,
  user_event: cHANDLE,
  work: cPVOID,
  thread: cHANDLE,
  exit_wait: cHANDLE,
});

export interface Shim {
  readonly path: string;
  /** Address of tpm_work_callback (PTP_WORK_CALLBACK). */
  readonly workCallback: PVOID;
  /** Address of tpm_wait_callback (PTP_WAIT_CALLBACK). */
  readonly waitCallback: PVOID;
  tpm_job_signal(job: PVOID): void;
  /** Returns true if the job was still queued (its CANCELLED packet is posted). */
  tpm_job_cancel(job: PVOID): boolean;
  /** As tpm_job_cancel, but leaves a job that holds its object holding (close(): waiters first). */
  tpm_job_abort(job: PVOID): boolean;
  /** Starts an abandon job on its own thread; returns the thread handle. */
  tpm_abandon_start(job: PVOID): bigint;
  /** Whether this process runs under Wine (ntdll exports wine_get_version). */
  readonly isWine: boolean;
}

/**
 * Loads the DLL from the first candidate path that exists and checks its ABI.
 * Throws EngineError('engine_unavailable') listing every path tried.
 */
export function loadShim(candidates: readonly string[] = shimCandidates()): Shim {
  const tried: string[] = [];
  let lib: LibraryHandle | undefined;
  let path = '';
  for (const candidate of candidates) {
    if (!existsSync(candidate)) { tried.push(`${candidate} (missing)`); continue; }
    try {
      lib = koffi.load(candidate);
      path = candidate;
      break;
    } catch (err) {
      tried.push(`${candidate} (${(err as Error).message})`);
    }
  }
  if (lib === undefined) {
    throw new EngineError('engine_unavailable',
      `the native shim ${candidates.length ? 'was not found' : 'has no candidate path'}. The npm package ships it prebuilt ` +
      '(npm install tpmutex needs no compiler); from a clone, build it with `npm run build`, which needs a C compiler ' +
      '(Windows: LLVM clang — winget install LLVM.LLVM — or cl, or llvm-mingw; Linux: x86_64-w64-mingw32-gcc), ' +
      `or put tpmutex-shim.dll from a GitHub release into prebuilds\\win32-x64\\; or start with ENGINE=emulated. Tried: ${tried.join('; ')}`);
  }

  const fAbi = lib.func('tpm_abi', cDWORD, [koffi.out(koffi.pointer(cDWORD)), koffi.out(koffi.pointer(cDWORD)), koffi.out(koffi.pointer(cDWORD))]);
  const fCallbacks = lib.func('tpm_callbacks', cDWORD, [koffi.out(koffi.pointer(cPVOID)), koffi.out(koffi.pointer(cPVOID))]);
  const fSignal = lib.func('tpm_job_signal', cDWORD, [cPVOID]);
  const fCancel = lib.func('tpm_job_cancel', cDWORD, [cPVOID, koffi.out(koffi.pointer(cLONG))]);
  const fAbandonStart = lib.func('tpm_abandon_start', cDWORD, [cPVOID, koffi.out(koffi.pointer(cHANDLE))]);
  const fPlatform = lib.func('tpm_platform', cDWORD, [koffi.out(koffi.pointer(cLONG))]);

  const version = [0], jobSize = [0], mutexSize = [0];
  const abiErr = fAbi(version, jobSize, mutexSize) as number;
  if (abiErr !== 0 || version[0] !== TPM_ABI_VERSION || jobSize[0] !== koffi.sizeof(cTpmJob) || mutexSize[0] !== koffi.sizeof(cTpmMutex)) {
    throw new EngineError('engine_unavailable',
      `${path} does not match this engine (ABI ${version[0]}/${TPM_ABI_VERSION}, job ${jobSize[0]}/${koffi.sizeof(cTpmJob)} bytes, ` +
      `mutex ${mutexSize[0]}/${koffi.sizeof(cTpmMutex)} bytes); rebuild it with \`npm run build\``);
  }
  // Bound after the version check: an older DLL lacks it, and the check says so better.
  const fAbort = lib.func('tpm_job_abort', cDWORD, [cPVOID, koffi.out(koffi.pointer(cLONG))]);
  const work: (PVOID | null)[] = [null], wait: (PVOID | null)[] = [null];
  const cbErr = fCallbacks(work, wait) as number;
  if (cbErr !== 0 || !work[0] || !wait[0]) throw new EngineError('engine_unavailable', `${path}: tpm_callbacks failed (${cbErr})`);

  const wine = [0];
  if ((fPlatform(wine) as number) !== 0) throw new EngineError('engine_unavailable', `${path}: tpm_platform failed`);

  // Both cancels take (job, out was-queued) and return 0 or a Win32 error.
  const cancelWith = (fn: (job: PVOID, wasQueued: number[]) => unknown, name: string, job: PVOID): boolean => {
    const wasQueued = [0];
    const err = fn(job, wasQueued) as number;
    if (err !== 0) throw new Win32Error(err, name);
    return wasQueued[0] === 1;
  };

  return {
    path,
    isWine: wine[0] === 1,
    tpm_abandon_start(job) {
      const thread: (bigint | null)[] = [null];
      const err = fAbandonStart(job, thread) as number;
      if (err !== 0) throw new Win32Error(err, 'tpm_abandon_start');
      return thread[0] ?? 0n;
    },
    workCallback: work[0],
    waitCallback: wait[0],
    tpm_job_signal(job) {
      const err = fSignal(job) as number;
      if (err !== 0) throw new Win32Error(err, 'tpm_job_signal');
    },
    tpm_job_cancel: (job) => cancelWith(fCancel, 'tpm_job_cancel', job),
    tpm_job_abort: (job) => cancelWith(fAbort, 'tpm_job_abort', job),
  };
}
