/**
 * The native surface the win32 engine uses, as one interface: kernel32, ntdll and the
 * shim, with the shim's records behind typed read/write calls. The engine gets it
 * from a loader, so the same packet handling runs on the real thing (loadNative,
 * through koffi, on Windows or under Wine) and on a deterministic fake under plain
 * Linux Node (test/engine/win32-fake-native.ts), where a test can post packets in
 * the orders a loaded machine produces only now and then.
 *
 * Handles and pointers are opaque bigints. Every call throws Win32Error on failure.
 */
import type { EventBasicInformationValue, MutantBasicInformationValue, SemaphoreBasicInformationValue } from './ntdll.js';
import { PortReader } from './port-reader.js';
import type { Packet, TpmJob } from './protocol.js';

export type HANDLE = bigint;
export type PVOID = bigint;

export type { Packet };

export interface Win32Native {
  /** Facts for /v1/info (DLL path, koffi version...). */
  readonly details: Readonly<Record<string, string | number | boolean>>;
  /**
   * Whether the process runs under Wine (ntdll exports wine_get_version): the pool
   * performs return actions in another order there (docs/design.md §1.3).
   */
  readonly isWine: boolean;

  QueryPerformanceFrequency(): bigint;
  QueryPerformanceCounter(): bigint;

  /** With the least access the engine needs (SYNCHRONIZE | MUTEX_MODIFY_STATE); also says whether it existed (ERROR_ALREADY_EXISTS). */
  CreateMutexExW(name: string): { handle: HANDLE; lastError: number };
  /** With SYNCHRONIZE access only: whether a mutex of that name exists and is visible. */
  OpenMutexW(name: string): HANDLE;
  NtQueryMutant(handle: HANDLE): MutantBasicInformationValue;
  /** The object's name in the object manager (`\Sessions\1\BaseNamedObjects\x`). */
  NtQueryObjectName(handle: HANDLE): string;
  /** The access mask the handle was granted. */
  NtQueryObjectGrantedAccess(handle: HANDLE): number;
  CloseHandle(handle: HANDLE): void;
  /** An unnamed event for the engine's own use (EVENT_ALL_ACCESS). */
  CreateEventExW(manualReset: boolean): HANDLE;
  ResetEvent(handle: HANDLE): void;
  SetEvent(handle: HANDLE): void;

  /** SYNCHRONIZE | SEMAPHORE_MODIFY_STATE | SEMAPHORE_QUERY_STATE; also says whether it existed. */
  CreateSemaphoreExW(name: string, initialCount: number, maximumCount: number): { handle: HANDLE; lastError: number };
  /** With SYNCHRONIZE access only: whether a semaphore of that name exists and is visible. */
  OpenSemaphoreW(name: string): HANDLE;
  NtQuerySemaphore(handle: HANDLE): SemaphoreBasicInformationValue;
  /** A named event, SYNCHRONIZE | EVENT_MODIFY_STATE | EVENT_QUERY_STATE; also says whether it existed. */
  CreateNamedEventExW(name: string, manualReset: boolean, initialState: boolean): { handle: HANDLE; lastError: number };
  /** With SYNCHRONIZE access only: whether an event of that name exists and is visible. */
  OpenEventW(name: string): HANDLE;
  NtQueryEvent(handle: HANDLE): EventBasicInformationValue;

  /** A completion port for the shim's packets. */
  CreateIoCompletionPort(): HANDLE;
  PostQueuedCompletionStatus(port: HANDLE, kind: number, key: bigint, qpc: bigint): void;
  /**
   * Starts the drain's own thread on the port (port-reader.ts); resolves once it reads,
   * so its start-up cost is paid inside engine.start(), not beside the first requests.
   */
  startReading(port: HANDLE): Promise<void>;
  /**
   * Resolves with at least one packet and at most `max`, in port order. The wait is
   * off the event loop and off libuv's pool: on the drain's own thread (port-reader.ts),
   * which ends after reading a packet with DRAIN_STOP_KEY.
   */
  takePackets(port: HANDLE, max: number): Promise<Packet[]>;

  CreateThreadpool(): HANDLE;
  SetThreadpoolThreadMaximum(pool: HANDLE, max: number): void;
  SetThreadpoolThreadMinimum(pool: HANDLE, min: number): void;
  CreateThreadpoolCleanupGroup(): HANDLE;
  /** The callback environment of pool + cleanup group, for the Create* calls below. */
  createEnvironment(pool: HANDLE, group: HANDLE): PVOID;
  freeEnvironment(environment: PVOID): void;
  /** A TP_WORK whose callback is the shim's work callback, on `record`. */
  CreateThreadpoolWork(record: PVOID, environment: PVOID): HANDLE;
  /** A TP_WAIT whose callback is the shim's wait callback, on `record`. */
  CreateThreadpoolWait(record: PVOID, environment: PVOID): HANDLE;
  SubmitThreadpoolWork(work: HANDLE): void;
  SetThreadpoolWait(wait: HANDLE, handle: HANDLE): void;
  /** Waits (off the event loop) for the callbacks; cancels the ones not started. */
  CloseThreadpoolCleanupGroupMembers(group: HANDLE, cancelPending: boolean): Promise<void>;
  CloseThreadpoolCleanupGroup(group: HANDLE): void;
  CloseThreadpool(pool: HANDLE): void;

  /** A tpm_job_t. */
  allocJob(): PVOID;
  writeJob(record: PVOID, job: TpmJob): void;
  readJob(record: PVOID): TpmJob;
  freeJob(record: PVOID): void;
  /** A tpm_mutex_t. */
  allocMutex(handle: HANDLE, fencing: number): PVOID;
  /** Its last fencing token issued. */
  readFencing(record: PVOID): number;
  freeMutex(record: PVOID): void;

  tpm_job_signal(record: PVOID): void;
  /** True if the job was still queued (its CANCELLED packet is posted). */
  tpm_job_cancel(record: PVOID): boolean;
  /**
   * tpm_job_cancel for every job that does not hold: cancels a queued one, aborts a
   * wait, but leaves a spin or hold going (its thread, not the engine, knows it holds).
   * close() calls it for every job before it ends any hold.
   */
  tpm_job_abort(record: PVOID): boolean;
  /** Starts an abandon job (kind TPM_KIND_ABANDON) on a dedicated thread; returns its handle. */
  tpm_abandon_start(record: PVOID): HANDLE;

  /** Frees what the layer itself holds (the drain thread, if it has not ended). */
  release(): void;
}

/** Packets one GetQueuedCompletionStatusEx call may remove. */
const DRAIN_BATCH = 64;

/**
 * The real layer through koffi. Throws EngineError('engine_unavailable') when koffi,
 * kernel32 or the shim cannot be loaded (the message lists every DLL path tried).
 */
export async function loadNative(): Promise<Win32Native> {
  const [koffiModule, k32, nt, shimModule] = await Promise.all([
    import('koffi'), import('./kernel32.js'), import('./ntdll.js'), import('./shim.js'),
  ]);
  const koffi = koffiModule.default;
  const { cTpmJob, cTpmMutex } = shimModule;
  const shim = shimModule.loadShim();
  let reader: PortReader | undefined;
  const fencingOffset = koffi.offsetof(cTpmMutex, 'fencing');
  return {
    details: { shim: shim.path, koffi: koffi.version, wine: shim.isWine },
    isWine: shim.isWine,
    QueryPerformanceFrequency: k32.QueryPerformanceFrequency,
    QueryPerformanceCounter: k32.QueryPerformanceCounter,
    CreateMutexExW: (name) => k32.CreateMutexExW(name, 0, k32.MUTEX_LEAST_ACCESS),
    OpenMutexW: (name) => k32.OpenMutexW(k32.SYNCHRONIZE, false, name),
    NtQueryMutant: nt.NtQueryMutant,
    NtQueryObjectName: nt.NtQueryObjectName,
    NtQueryObjectGrantedAccess: nt.NtQueryObjectGrantedAccess,
    CloseHandle: k32.CloseHandle,
    CreateEventExW: (manualReset) => k32.CreateEventExW(null, manualReset ? k32.CREATE_EVENT_MANUAL_RESET : 0, k32.EVENT_ALL_ACCESS),
    ResetEvent: k32.ResetEvent,
    SetEvent: k32.SetEvent,
    CreateSemaphoreExW: (name, initialCount, maximumCount) => k32.CreateSemaphoreExW(name, initialCount, maximumCount, k32.SEMAPHORE_LEAST_ACCESS),
    OpenSemaphoreW: (name) => k32.OpenSemaphoreW(k32.SYNCHRONIZE, false, name),
    NtQuerySemaphore: nt.NtQuerySemaphore,
    CreateNamedEventExW: (name, manualReset, initialState) => k32.CreateNamedEventExW(name,
      (manualReset ? k32.CREATE_EVENT_MANUAL_RESET : 0) | (initialState ? k32.CREATE_EVENT_INITIAL_SET : 0), k32.EVENT_LEAST_ACCESS),
    OpenEventW: (name) => k32.OpenEventW(k32.SYNCHRONIZE, false, name),
    NtQueryEvent: nt.NtQueryEvent,
    // Concurrency 0 (one per CPU): there is one reader, the drain thread, and the
    // value only limits how many readers the port wakes at once.
    CreateIoCompletionPort: () => k32.CreateIoCompletionPort(k32.INVALID_HANDLE_VALUE, null, 0n, 0),
    PostQueuedCompletionStatus: k32.PostQueuedCompletionStatus,
    startReading(port) {
      reader ??= new PortReader({ port, batch: DRAIN_BATCH });
      return reader.reading;
    },
    takePackets(port, max) {
      reader ??= new PortReader({ port, batch: DRAIN_BATCH });
      return reader.take(max);
    },
    CreateThreadpool: k32.CreateThreadpool,
    SetThreadpoolThreadMaximum: k32.SetThreadpoolThreadMaximum,
    SetThreadpoolThreadMinimum: k32.SetThreadpoolThreadMinimum,
    CreateThreadpoolCleanupGroup: k32.CreateThreadpoolCleanupGroup,
    createEnvironment(pool, group) {
      const environment = koffi.alloc(k32.cTP_CALLBACK_ENVIRON_V3, 1) as PVOID;
      koffi.encode(environment, k32.cTP_CALLBACK_ENVIRON_V3, {
        Version: 3, Pool: pool, CleanupGroup: group, CleanupGroupCancelCallback: null,
        RaceDll: null, ActivationContext: null, FinalizationCallback: null,
        Flags: 0, CallbackPriority: 1 /* TP_CALLBACK_PRIORITY_NORMAL */, Size: koffi.sizeof(k32.cTP_CALLBACK_ENVIRON_V3),
      });
      return environment;
    },
    freeEnvironment: (environment) => koffi.free(environment),
    CreateThreadpoolWork: (record, environment) => k32.CreateThreadpoolWork(shim.workCallback, record, environment),
    CreateThreadpoolWait: (record, environment) => k32.CreateThreadpoolWait(shim.waitCallback, record, environment),
    SubmitThreadpoolWork: k32.SubmitThreadpoolWork,
    SetThreadpoolWait: k32.SetThreadpoolWait,
    CloseThreadpoolCleanupGroupMembers: k32.CloseThreadpoolCleanupGroupMembers,
    CloseThreadpoolCleanupGroup: k32.CloseThreadpoolCleanupGroup,
    CloseThreadpool: k32.CloseThreadpool,
    allocJob: () => koffi.alloc(cTpmJob, 1) as PVOID,
    writeJob: (record, job) => koffi.encode(record, cTpmJob, job),
    readJob: (record) => koffi.decode(record, cTpmJob) as TpmJob,
    freeJob: (record) => koffi.free(record),
    allocMutex(handle, fencing) {
      const record = koffi.alloc(cTpmMutex, 1) as PVOID;
      koffi.encode(record, cTpmMutex, { handle, fencing });
      return record;
    },
    readFencing: (record) => Number(koffi.decode(record, fencingOffset, 'int64_t')),
    freeMutex: (record) => koffi.free(record),
    tpm_job_signal: shim.tpm_job_signal,
    tpm_job_cancel: shim.tpm_job_cancel,
    tpm_job_abort: shim.tpm_job_abort,
    tpm_abandon_start: shim.tpm_abandon_start,
    release: () => reader?.release(),
  };
}
