/*
 * tpmutex-shim: the code that runs on Windows thread-pool threads.
 *
 * JavaScript never runs on a pool thread (docs/design.md §1.1: a koffi callback would run on
 * the JS main thread and make *it* the mutex owner), and a pool thread never waits
 * for JavaScript. So the work callback is native: it waits for the named mutex on its
 * own pool thread, registers the release with the pool, spins/holds, and returns; the
 * pool releases the mutex after the return. Every step is reported as a packet on one
 * I/O completion port that the engine drains on a thread of its own with a blocking
 * GetQueuedCompletionStatusEx (src/engine/win32/port-reader-thread.ts).
 *
 * Packets: lpCompletionKey = the job's key, dwNumberOfBytesTransferred = the kind
 * (TPM_PACKET_*), lpOverlapped = the QueryPerformanceCounter stamp of the step (never
 * dereferenced: PostQueuedCompletionStatus passes it through). Everything else a step
 * produces (thread id, fencing token, wait result...) is written to the job record
 * *before* the packet that announces it is posted.
 *
 * Style (libuv src/win): every fallible exported function returns 0 or a Win32 error
 * code and writes results through out-pointers; arguments are checked before anything
 * happens; no global or static mutable state (all state lives in the caller-owned
 * records); nothing here aborts or exits: this DLL lives inside a service.
 *
 * Build: npm run build (src/native/build.ts: x86_64-w64-mingw32-gcc, clang or cl).
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00 /* Windows 10: CallbackMayRunLong, thread-pool API v3 */
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#define TPM_EXPORT __declspec(dllexport)

/* Bumped whenever a record layout, a packet meaning or an export changes; the engine
 * refuses a DLL with another version (see tpm_abi). 4: tpm_job_abort, and the signal
 * event alone no longer ends a hold. */
#define TPM_ABI_VERSION 4

/* Packet kinds (dwNumberOfBytesTransferred). Their twins, and every other number the
 * engine shares with this file, are in src/engine/win32/protocol.ts (which
 * src/engine/win32/shim.ts loads this DLL against); keep them equal. */
enum {
  TPM_PACKET_STARTED = 1,   /* the callback claimed the job on a pool thread */
  TPM_PACKET_ACQUIRED = 2,  /* the callback's thread owns the mutex */
  TPM_PACKET_RETURNED = 3,  /* the callback is about to return (stamp taken last) */
  TPM_PACKET_RELEASED = 4,  /* wait callback: the pool released the mutex; record free */
  TPM_PACKET_TIMED_OUT = 5, /* the acquire wait timed out */
  TPM_PACKET_CANCELLED = 6, /* cancelled before owning (queued, or wait aborted) */
  TPM_PACKET_FAILED = 7,    /* a wait failed; error/error_fn say why */
  TPM_PACKET_RETIRED = 8,   /* wait callback for a job that never owned: record free */
  TPM_PACKET_ABANDONED = 9  /* wait callback on an abandon thread that exited owning the
                             * mutex: it is abandoned now; record free */
};

/* tpm_job_t.kind: what the job acquires (set by the engine). */
enum {
  TPM_KIND_NONE = 0,      /* nothing: a work that only sets an event on return */
  TPM_KIND_MUTEX = 1,     /* ReleaseMutexWhenCallbackReturns */
  TPM_KIND_SEMAPHORE = 2, /* ReleaseSemaphoreWhenCallbackReturns(instance, sem, 1) */
  TPM_KIND_ABANDON = 3    /* a mutex, on a dedicated thread that exits owning it */
};

/* tpm_job_t.state: who got the job first, the callback or a cancel. */
enum {
  TPM_JOB_QUEUED = 0,
  TPM_JOB_STARTED = 1,
  TPM_JOB_CANCELLED = 2
};

/* tpm_job_t.error_fn: the call that failed. */
enum {
  TPM_FN_NONE = 0,
  TPM_FN_WAIT_FOR_MULTIPLE_OBJECTS = 1,
  TPM_FN_WAIT_FOR_SINGLE_OBJECT = 2,
  TPM_FN_RESET_EVENT = 3,
  TPM_FN_CHECKED_RULE = 4, /* checked mode refused a step; tpm_job_t.rule says which */
  TPM_FN_WAIT_FOR_WORK_CALLBACKS = 5 /* not used: WaitForThreadpoolWorkCallbacks cannot fail */
};

/* tpm_job_t.checks, set by the engine. TPM_CHECKED turns on the checks below; the
 * TPM_BREAK_* bits break a rule on purpose so a test can prove that its check fires,
 * and are ignored unless TPM_CHECKED is set too. */
enum {
  TPM_CHECKED = 1,
  TPM_BREAK_ACTION_TWICE = 2,      /* ask for the release action (mutex or semaphore) a second time */
  TPM_BREAK_RELEASE_NOT_OWNED = 4, /* give up ownership before registering the release */
  TPM_BREAK_HANDLE_CLOSED = 8,     /* register the release on a handle that was closed */
  TPM_TEST_LATE_CANCEL_POST = 16,  /* tpm_job_cancel posts CANCELLED after the callback returned */
  TPM_TEST_ABORT_TAKEN = 32        /* tpm_job_abort returns once the job's thread took the abort in */
};

/* tpm_job_t.rule: the real-Windows rule a step would have broken. On Windows each of
 * them raises an exception when the callback returns, which kills the process; Wine
 * silently ignores all of them, so only these checks make a test see them. */
enum {
  TPM_RULE_NONE = 0,
  TPM_RULE_ACTION_TWICE = 1,      /* the same callback-return action registered twice */
  TPM_RULE_RELEASE_NOT_OWNED = 2, /* release of a mutex the thread does not own exactly once */
  TPM_RULE_HANDLE_CLOSED = 3,     /* the pool would release a handle that is not open */
  TPM_RULE_SEMAPHORE_LIMIT = 4    /* the pool's release would exceed the semaphore's maximum */
};

/* Callback-return actions, one bit each in tpm_job_t.actions. */
enum {
  TPM_ACTION_SET_EVENT = 1,         /* setEventOnReturn: the user's event */
  TPM_ACTION_RELEASE_MUTEX = 2,
  TPM_ACTION_RELEASE_SEMAPHORE = 4,
  TPM_ACTION_NOTICE_EVENT = 8       /* the shim's own `done` notice (same kind as SET_EVENT) */
};
#define TPM_EVENT_ACTIONS (TPM_ACTION_SET_EVENT | TPM_ACTION_NOTICE_EVENT)

/* One per open mutex or semaphore, allocated by the engine (koffi). */
typedef struct tpm_mutex_s {
  HANDLE handle;
  /* Last fencing token issued. Incremented (InterlockedIncrement64) only by a thread
   * that owns the mutex, so tokens are strictly increasing in acquisition order. For a
   * semaphore it is the acquisition sequence number (incremented holding a unit). */
  volatile LONG64 fencing;
} tpm_mutex_t;

/*
 * One per work, allocated by the engine (koffi) and recycled after the wait callback's
 * packet (RELEASED or RETIRED): from then on no pool thread touches it.
 * The layout is mirrored by cJob in src/engine/win32/shim.ts; tpm_abi reports sizes.
 */
typedef struct tpm_job_s {
  /* Set by the engine before SubmitThreadpoolWork; read-only for the callbacks. */
  HANDLE port;                /* completion port for the packets */
  ULONG_PTR key;              /* identifies the job in its packets */
  tpm_mutex_t *mutex;
  HANDLE signal;              /* manual-reset: with cancel_requested, aborts a wait; with
                               * signal_requested, ends a spin or hold */
  HANDLE done;                /* auto-reset: set by the pool after the callback returned */
  DWORD acquire_timeout_ms;   /* 0 = try once */
  DWORD spin_ms;
  DWORD hold_ms;
  LONG may_run_long;          /* nonzero: call CallbackMayRunLong */

  /* Shared between the callback and tpm_job_signal/tpm_job_cancel (Interlocked*). */
  volatile LONG state;        /* TPM_JOB_* */
  volatile LONG signal_requested;
  volatile LONG cancel_requested;

  /* Results, written by the thread that did the step before its packet is posted. */
  DWORD thread_id;
  LONG may_run_long_result;   /* -1 not asked, 0 refused, 1 granted */
  DWORD wait_result;          /* last WaitForMultipleObjects/WaitForSingleObject result */
  LONG owned;                 /* 1 once ReleaseMutexWhenCallbackReturns is registered */
  LONG abandoned;             /* acquired with WAIT_ABANDONED */
  LONG signaled;              /* the spin or hold was ended by a signal */
  DWORD error;                /* GetLastError() of the failed call */
  DWORD error_fn;             /* TPM_FN_* */
  DWORD post_error;           /* last PostQueuedCompletionStatus failure, 0 if none */
  LONG checks;                /* TPM_CHECKED | TPM_BREAK_*, set by the engine */
  LONG actions;               /* TPM_ACTION_* registered by this callback so far */
  LONG rule;                  /* TPM_RULE_* a step would have broken, 0 if none */
  LONG rule_status;           /* NTSTATUS of the NtQueryMutant behind the verdict */
  LONG rule_count;            /* MUTANT_BASIC_INFORMATION.CurrentCount it saw */
  LONG rule_owned;            /* MUTANT_BASIC_INFORMATION.OwnedByCaller it saw */
  volatile LONG cancel_seen;  /* 1: the callback found the job cancelled and returned at
                               * once; 2: its wait callback is about to post RETIRED */
  LONG64 fencing_token;
  LONG64 started_qpc;
  LONG64 acquired_qpc;
  LONG64 returned_qpc;
  LONG64 ended_qpc;           /* stamp of the terminal step */

  /* Set by the engine before the launch (ABI 3). */
  LONG kind;                  /* TPM_KIND_*; `mutex` is the mutex or semaphore record (NULL for none) */
  HANDLE user_event;          /* SetEventWhenCallbackReturns target, or NULL */
  PTP_WORK work;              /* the job's own TP_WORK, for WaitForThreadpoolWorkCallbacks */
  /* Written by tpm_abandon_start: the dedicated thread (the engine closes it at the
   * handback) and the registered wait on it (unregistered by its own callback). */
  HANDLE thread;
  HANDLE exit_wait;
} tpm_job_t;

static LONG64 tpm__now(void) {
  LARGE_INTEGER now;
  QueryPerformanceCounter(&now); /* cannot fail on Windows XP and later */
  return now.QuadPart;
}

static void tpm__post(tpm_job_t *job, DWORD kind, LONG64 stamp) {
  /* Copy what the packet needs first: after a RELEASED/RETIRED packet the engine may
   * recycle the record at once. A failure (port closed at shutdown) cannot be
   * reported any other way than in the record. */
  HANDLE port = job->port;
  ULONG_PTR key = job->key;
  if (!PostQueuedCompletionStatus(port, kind, key, (LPOVERLAPPED)(ULONG_PTR)stamp))
    job->post_error = GetLastError();
}

/* Milliseconds left until deadline (QPC ticks), rounded up, never negative. */
static DWORD tpm__remaining_ms(LONG64 deadline, LONG64 freq) {
  LONG64 left = deadline - tpm__now();
  if (left <= 0)
    return 0;
  return (DWORD)((left * 1000 + freq - 1) / freq);
}

/*
 * Waits for the mutex, honouring the acquire timeout, while a cancel aborts the wait.
 * The signal event comes first in the handle array: WaitForMultipleObjects reports the
 * lowest signalled index, so when a cancel and a release are both there by the time
 * this thread looks (the cancel was made before the release, but this thread had not
 * reached the wait yet), the cancel wins and the mutex is left to the next waiter —
 * the same rule as the emulated engine's, and the one shutdown relies on: a waiter
 * cancelled before a holder is ended never takes the mutex over (tpm_job_abort).
 * A plain signal that arrives before the acquire must NOT abort it (it is kept and
 * ends the hold at once), so when the signal event wakes the wait without a cancel,
 * the event is reset and the wait goes on; the flag still carries the signal. The
 * order makes a racing cancel safe: the canceller sets cancel_requested *then* the
 * event, and this resets the event *then* reads the flag — either the flag is seen
 * here, or the event is set again after the reset and wakes the next wait.
 * Returns the final wait result: WAIT_OBJECT_0, WAIT_ABANDONED_0, WAIT_TIMEOUT,
 * WAIT_OBJECT_0 + 1 (cancelled) or WAIT_FAILED (job->error/error_fn set).
 */
static DWORD tpm__acquire(tpm_job_t *job, LONG64 freq) {
  HANDLE handles[2];
  LONG64 deadline;
  DWORD timeout;
  DWORD result;

  handles[0] = job->signal; /* index 0: wins when both are signalled (see above) */
  handles[1] = job->mutex->handle;
  deadline = tpm__now() + (LONG64)job->acquire_timeout_ms * freq / 1000;
  timeout = job->acquire_timeout_ms;

  for (;;) {
    result = WaitForMultipleObjects(2, handles, FALSE, timeout);
    job->wait_result = result;
    if (result == WAIT_FAILED) {
      job->error = GetLastError();
      job->error_fn = TPM_FN_WAIT_FOR_MULTIPLE_OBJECTS;
      return WAIT_FAILED;
    }
    if (result == WAIT_OBJECT_0 + 1)
      return WAIT_OBJECT_0; /* the mutex */
    if (result == WAIT_ABANDONED_0 + 1)
      return WAIT_ABANDONED_0;
    if (result != WAIT_OBJECT_0)
      return result; /* WAIT_TIMEOUT */
    if (!ResetEvent(job->signal)) {
      job->error = GetLastError();
      job->error_fn = TPM_FN_RESET_EVENT;
      return WAIT_FAILED;
    }
    if (InterlockedCompareExchange(&job->cancel_requested, 0, 0) != 0)
      return WAIT_OBJECT_0 + 1;
    timeout = tpm__remaining_ms(deadline, freq);
  }
}

/* CPU-bound work while owning: a QPC busy loop that ends early on a signal. It reads
 * the flag that tpm_job_signal sets right before the event, so each iteration costs a
 * memory read rather than a kernel call. Returns 1 if a signal ended it. */
static int tpm__spin(tpm_job_t *job, LONG64 freq) {
  LONG64 end = tpm__now() + (LONG64)job->spin_ms * freq / 1000;
  for (;;) {
    if (job->signal_requested != 0)
      return 1;
    if (tpm__now() >= end)
      return 0;
    YieldProcessor();
  }
}

/* Sleeps up to hold_ms; a signal ends it. Returns 1 if a signal ended it. The flag is
 * checked first because tpm__acquire may have reset the event of an early signal.
 * The event without the flag is an abort (tpm_job_abort), meant for a wait this thread
 * is past: the hold goes on, so the event is reset and the sleep resumed. As in
 * tpm__acquire, the flag is read again after the reset: a signal racing it either is
 * seen then, or sets the event again and wakes the next sleep. A failed wait or reset
 * ends the hold now (still a clean release): it cannot hold without the event. */
static int tpm__hold(tpm_job_t *job, LONG64 freq) {
  LONG64 deadline = tpm__now() + (LONG64)job->hold_ms * freq / 1000;
  DWORD timeout = job->hold_ms;
  DWORD result;

  for (;;) {
    if (job->signal_requested != 0)
      return 1;
    result = WaitForSingleObject(job->signal, timeout);
    if (result == WAIT_TIMEOUT)
      return 0;
    if (result != WAIT_OBJECT_0) {
      job->error = GetLastError();
      job->error_fn = TPM_FN_WAIT_FOR_SINGLE_OBJECT;
      return 0;
    }
    if (job->signal_requested != 0)
      return 1;
    if (!ResetEvent(job->signal)) {
      job->error = GetLastError();
      job->error_fn = TPM_FN_RESET_EVENT;
      return 0;
    }
    timeout = tpm__remaining_ms(deadline, freq);
  }
}

/* MUTANT_BASIC_INFORMATION (ntdll, class 0): exactly 8 bytes, else
 * STATUS_INFO_LENGTH_MISMATCH. CurrentCount 1 = free, 0 = owned once, -1 = twice. */
typedef struct tpm_mutant_info_s {
  LONG CurrentCount;
  BOOLEAN OwnedByCaller;
  BOOLEAN AbandonedState;
} tpm_mutant_info_t;

/* SEMAPHORE_BASIC_INFORMATION (ntdll, class 0): { LONG CurrentCount; LONG MaximumCount; }. */
typedef struct tpm_semaphore_info_s {
  LONG CurrentCount;
  LONG MaximumCount;
} tpm_semaphore_info_t;

typedef LONG (NTAPI *tpm_nt_query_t)(HANDLE, int, PVOID, ULONG, PULONG);

/* NtQueryMutant / NtQuerySemaphore (class 0 of both), resolved per call: no global
 * state, and only checked mode pays. */
static LONG tpm__nt_query(const char *fn, HANDLE handle, PVOID info, ULONG size) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  /* Through void (*)(void), the one function type that converts to any other. */
  tpm_nt_query_t query = ntdll == NULL ? NULL : (tpm_nt_query_t)(void (*)(void))GetProcAddress(ntdll, fn);
  if (query == NULL)
    return (LONG)0xC0000002; /* STATUS_NOT_IMPLEMENTED */
  return query(handle, 0 /* *BasicInformation */, info, size, NULL);
}

static LONG tpm__query_mutant(HANDLE handle, tpm_mutant_info_t *info) {
  return tpm__nt_query("NtQueryMutant", handle, info, (ULONG)sizeof *info);
}

static LONG tpm__query_semaphore(HANDLE handle, tpm_semaphore_info_t *info) {
  return tpm__nt_query("NtQuerySemaphore", handle, info, (ULONG)sizeof *info);
}

/* Claims one callback-return action for this callback. Guard: on real Windows,
 * registering the same kind of action twice in one callback raises an exception when
 * the callback returns; Wine ignores it. A second claim is refused (the caller must
 * not register) and recorded as the rule, in every mode: it costs a bit test. */
static int tpm__claim_action(tpm_job_t *job, LONG action) {
  LONG kind = (action & TPM_EVENT_ACTIONS) != 0 ? TPM_EVENT_ACTIONS : action; /* one event action of either use */
  if ((job->actions & kind) != 0) {
    job->rule = TPM_RULE_ACTION_TWICE;
    return 0;
  }
  job->actions |= action;
  return 1;
}

/* Checked mode, right before a release is registered: queries the object
 * (NtQuerySemaphore or NtQueryMutant) and records what it saw in rule_status,
 * rule_count and rule_owned (CurrentCount and MaximumCount for a semaphore,
 * CurrentCount and OwnedByCaller for a mutex). A failed query means the handle is not
 * open (STATUS_INVALID_HANDLE) or not of that kind: the pool's release would raise on
 * Windows, so it records TPM_RULE_HANDLE_CLOSED. Returns 1 if the query succeeded. */
static int tpm__query_for_release(tpm_job_t *job, HANDLE handle, int semaphore) {
  LONG status;

  if (semaphore) {
    tpm_semaphore_info_t info = { 0, 0 };
    status = tpm__query_semaphore(handle, &info);
    job->rule_count = info.CurrentCount;
    job->rule_owned = info.MaximumCount;
  } else {
    tpm_mutant_info_t info = { 1, 0, 0 };
    status = tpm__query_mutant(handle, &info);
    job->rule_count = info.CurrentCount;
    job->rule_owned = info.OwnedByCaller;
  }
  job->rule_status = status;
  if (status < 0) {
    job->rule = TPM_RULE_HANDLE_CLOSED;
    return 0;
  }
  return 1;
}

/* Checked mode: may the pool release `handle` for this thread when the callback
 * returns? Only if it is an open mutex handle (else the pool's release raises on
 * Windows) that this thread owns exactly once (else
 * STATUS_THREADPOOL_RELEASE_MUTEX_ON_COMPLETION_FAILED, or a recursion the pool's one
 * release leaves held). Returns 1 if so; else records the rule and what it saw. */
static int tpm__may_release(tpm_job_t *job, HANDLE handle) {
  if (!tpm__query_for_release(job, handle, 0))
    return 0;
  if (job->rule_owned == 0 || job->rule_count != 0) { /* OwnedByCaller, CurrentCount */
    job->rule = TPM_RULE_RELEASE_NOT_OWNED;
    return 0;
  }
  return 1;
}

/* Checked mode, semaphores: the pool's ReleaseSemaphore(sem, 1) fails (and raises on
 * Windows) if it would take the count above the maximum, e.g. when another process
 * released a unit it never took. NtQuerySemaphore right before registering: the unit
 * this callback holds must still fit. rule_count/rule_owned record count/maximum. */
static int tpm__may_release_unit(tpm_job_t *job, HANDLE handle) {
  if (!tpm__query_for_release(job, handle, 1))
    return 0;
  if (job->rule_count >= job->rule_owned) { /* CurrentCount, MaximumCount */
    job->rule = TPM_RULE_SEMAPHORE_LIMIT;
    return 0;
  }
  return 1;
}

/* Test entry point, honoured only in checked mode: breaks one rule on purpose right
 * before the release is registered, so a test proves that the check stops it. The
 * broken step itself never reaches the pool: the checks refuse it first. */
static HANDLE tpm__break_rule(tpm_job_t *job, HANDLE handle, LONG release_action) {
  HANDLE copy = NULL;
  if ((job->checks & TPM_CHECKED) == 0)
    return handle;
  if ((job->checks & TPM_BREAK_ACTION_TWICE) != 0)
    (void)tpm__claim_action(job, release_action); /* the real claim that follows is refused */
  if ((job->checks & TPM_BREAK_RELEASE_NOT_OWNED) != 0) {
    if (job->kind == TPM_KIND_SEMAPHORE)
      ReleaseSemaphore(handle, 1, NULL);
    else
      ReleaseMutex(handle);
  }
  if ((job->checks & TPM_BREAK_HANDLE_CLOSED) != 0 &&
      DuplicateHandle(GetCurrentProcess(), handle, GetCurrentProcess(), &copy, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
    CloseHandle(copy);
    return copy; /* the value of a handle that is closed now */
  }
  return handle;
}

/* Gives up every ownership of the mutex this thread has (after a refused release, so
 * the failed work leaves nothing held). ReleaseMutex fails once nothing is owned. */
static void tpm__disown(HANDLE handle) {
  int i;
  for (i = 0; i < 1024 && ReleaseMutex(handle); i++)
    ;
}

/* Posts a terminal packet for a job that ends owning nothing, stamped now. */
static void tpm__end_unowned(tpm_job_t *job, DWORD kind) {
  job->ended_qpc = tpm__now();
  tpm__post(job, kind, job->ended_qpc);
}

/* The callback's first step: claims the job from a cancel. Returns 0 if a cancel got
 * the job first: then tpm_job_cancel already posted the CANCELLED packet. */
static int tpm__claim_job(tpm_job_t *job) {
  if (InterlockedCompareExchange(&job->state, TPM_JOB_STARTED, TPM_JOB_QUEUED) != TPM_JOB_QUEUED) {
    InterlockedExchange(&job->cancel_seen, 1);
    return 0;
  }
  return 1;
}

/* Reports STARTED: the thread, and CallbackMayRunLong's answer if asked for (it must
 * run on this thread; never for an abandon thread, which is no pool thread). */
static void tpm__report_start(tpm_job_t *job, PTP_CALLBACK_INSTANCE instance) {
  job->thread_id = GetCurrentThreadId();
  job->may_run_long_result = -1;
  if (job->may_run_long != 0 && instance != NULL)
    job->may_run_long_result = CallbackMayRunLong(instance) ? 1 : 0;
  job->started_qpc = tpm__now();
  tpm__post(job, TPM_PACKET_STARTED, job->started_qpc);
}

/* Waits for the mutex or semaphore. Returns 1 when this thread owns it (result in
 * *out_result); else the job's terminal packet (TIMED_OUT, CANCELLED, FAILED) is posted
 * and it returns 0. */
static int tpm__wait_for_object(tpm_job_t *job, LONG64 freq, DWORD *out_result) {
  DWORD result = tpm__acquire(job, freq);
  *out_result = result;
  switch (result) {
  case WAIT_OBJECT_0:
  case WAIT_ABANDONED_0:
    return 1;
  case WAIT_TIMEOUT:
    tpm__end_unowned(job, TPM_PACKET_TIMED_OUT);
    return 0;
  case WAIT_OBJECT_0 + 1:
    tpm__end_unowned(job, TPM_PACKET_CANCELLED);
    return 0;
  default:
    /* WAIT_FAILED: tpm__acquire recorded the error; this thread owns nothing. */
    if (job->error_fn == TPM_FN_NONE)
      job->error_fn = TPM_FN_WAIT_FOR_MULTIPLE_OBJECTS;
    tpm__end_unowned(job, TPM_PACKET_FAILED);
    return 0;
  }
}

/* Reports ACQUIRED with the next fencing token (taken while owning). */
static void tpm__report_acquired(tpm_job_t *job, DWORD result) {
  job->owned = 1;
  job->abandoned = result == WAIT_ABANDONED_0;
  job->fencing_token = InterlockedIncrement64(&job->mutex->fencing); /* while owning */
  job->acquired_qpc = tpm__now();
  tpm__post(job, TPM_PACKET_ACQUIRED, job->acquired_qpc);
}

/*
 * Registers the pool's release of the mutex this thread now owns (or of the semaphore
 * unit it took), and reports ACQUIRED. Returns 0 if a guard refused (FAILED is posted,
 * nothing is left owned).
 *
 * Guard: on real Windows, ReleaseMutexWhenCallbackReturns on a mutex this thread
 * does not own raises STATUS_THREADPOOL_RELEASE_MUTEX_ON_COMPLETION_FAILED when the
 * callback returns, and so does registering an action twice, the pool releasing a
 * closed handle, or a semaphore release above the maximum; Wine silently ignores them
 * all. Hence: registered only after a wait that returned WAIT_OBJECT_0 or
 * WAIT_ABANDONED_0 (this thread owns the mutex exactly once: every earlier callback on
 * this thread had its ownership released by the pool), through the one-claim-per-kind
 * gate, and in checked mode only after NtQueryMutant / NtQuerySemaphore confirmed it.
 * A refusal fails the work instead of a process that dies on Windows.
 */
static int tpm__take_ownership(tpm_job_t *job, PTP_CALLBACK_INSTANCE instance, DWORD result) {
  int semaphore = job->kind == TPM_KIND_SEMAPHORE;
  LONG action = semaphore ? TPM_ACTION_RELEASE_SEMAPHORE : TPM_ACTION_RELEASE_MUTEX;
  HANDLE handle = tpm__break_rule(job, job->mutex->handle, action);
  int checked = (job->checks & TPM_CHECKED) != 0;
  if (job->rule != TPM_RULE_NONE ||
      (checked && !(semaphore ? tpm__may_release_unit(job, handle) : tpm__may_release(job, handle))) ||
      !tpm__claim_action(job, action)) {
    if (semaphore)
      ReleaseSemaphore(job->mutex->handle, 1, NULL); /* the unit it took; fails harmlessly at the maximum */
    else
      tpm__disown(job->mutex->handle);
    job->error = (DWORD)job->rule;
    job->error_fn = TPM_FN_CHECKED_RULE;
    tpm__end_unowned(job, TPM_PACKET_FAILED);
    return 0;
  }
  if (semaphore)
    ReleaseSemaphoreWhenCallbackReturns(instance, handle, 1);
  else
    ReleaseMutexWhenCallbackReturns(instance, handle);
  tpm__report_acquired(job, result);
  return 1;
}

/* Spins, then holds, each ended early by a signal, and reports RETURNED. */
static void tpm__hold_then_return(tpm_job_t *job, LONG64 freq) {
  int signaled = 0;
  if (job->spin_ms != 0)
    signaled = tpm__spin(job, freq);
  if (!signaled && job->hold_ms != 0)
    signaled = tpm__hold(job, freq);
  if (!signaled && job->signal_requested != 0)
    signaled = 1; /* a signal that came with no spin or hold left to end */
  job->signaled = signaled;

  /* Timing honesty: "returned" is stamped as late as possible, right before the
   * return; the pool performs the return actions after it, and the RELEASED stamp is
   * taken later still, in tpm_wait_callback — never earlier than the last of them. */
  job->returned_qpc = tpm__now();
  tpm__post(job, TPM_PACKET_RETURNED, job->returned_qpc);
}

/*
 * Which `done` notice a work job uses (docs/design.md §1.3):
 * - the pool's: SetEventWhenCallbackReturns(done), registered first thing, for a plain
 *   mutex (or nothing) work without setEventOnReturn — the event action then is the
 *   last action on both platforms (Windows: mutex → event; Wine: mutex → event), and
 *   it is the path measured fastest (the wait callback need not wait for anything);
 * - the callback's own: a plain SetEvent(done) as its very last statement, then the
 *   wait callback waits for the epilog (WaitForThreadpoolWorkCallbacks), when the event
 *   kind is the user's (setEventOnReturn) or a semaphore is released (on Windows after
 *   the event action).
 * Both sides compute it from fields the engine set before the launch.
 */
static int tpm__pool_sets_done(const tpm_job_t *job) {
  return job->user_event == NULL && (job->kind == TPM_KIND_MUTEX || job->kind == TPM_KIND_NONE);
}

/* The work callback's steps; every return leads to tpm_work_callback's last step. */
static void tpm__run(tpm_job_t *job, PTP_CALLBACK_INSTANCE instance) {
  LARGE_INTEGER freq;
  DWORD result;

  /* Before the claim, as ever: the pool sets `done` on every path, a lost claim too. */
  if (tpm__pool_sets_done(job) && tpm__claim_action(job, TPM_ACTION_NOTICE_EVENT))
    SetEventWhenCallbackReturns(instance, job->done);
  if (!tpm__claim_job(job))
    return;
  /* setEventOnReturn: registered first, so the pool sets the event on every return
   * path from here on (timed out, cancelled while waiting, failed) — the contract. */
  if (job->user_event != NULL && tpm__claim_action(job, TPM_ACTION_SET_EVENT))
    SetEventWhenCallbackReturns(instance, job->user_event);
  QueryPerformanceFrequency(&freq);
  tpm__report_start(job, instance);
  if (InterlockedCompareExchange(&job->cancel_requested, 0, 0) != 0) {
    tpm__end_unowned(job, TPM_PACKET_CANCELLED);
    return;
  }
  if (job->kind == TPM_KIND_NONE) {
    job->owned = 1; /* nothing to own, but its end is the pool's (event) action: RELEASED */
    tpm__hold_then_return(job, freq.QuadPart);
    return;
  }
  if (!tpm__wait_for_object(job, freq.QuadPart, &result))
    return;
  if (!tpm__take_ownership(job, instance, result))
    return;
  tpm__hold_then_return(job, freq.QuadPart);
}

/*
 * The TP_WORK callback. Exactly one terminal packet per job comes from here or from
 * tpm_job_cancel; the record is handed back by tpm_wait_callback after the return.
 *
 * Unless the pool sets `done` (tpm__pool_sets_done), its very last step sets it, a
 * plain SetEvent and no callback-return action: a callback may register only one
 * action per kind, and with setEventOnReturn the event kind is the user's; besides, on
 * Windows the pool sets the event BEFORE it releases a semaphore (docs/design.md §1.3),
 * so an event-action notice could come before the last action. The TP_WAIT callback on
 * `done` then waits for the epilog itself (WaitForThreadpoolWorkCallbacks on this
 * TP_WORK), see tpm_wait_callback.
 */
static VOID CALLBACK tpm_work_callback(PTP_CALLBACK_INSTANCE instance, PVOID context, PTP_WORK work) {
  tpm_job_t *job = (tpm_job_t *)context;
  HANDLE done = job->done;
  int pool_sets_done = tpm__pool_sets_done(job);

  (void)work;
  tpm__run(job, instance);
  if (!pool_sets_done)
    SetEvent(done); /* cannot fail on an open event handle; the engine keeps it open */
}

/*
 * The TP_WAIT callback on `done`.
 *
 * Work jobs whose `done` the pool sets (tpm__pool_sets_done): it is the last return
 * action, so the mutex is released already. Other work jobs: `done` is set by the
 * work callback's last statement, so the callback has
 * returned or is about to; WaitForThreadpoolWorkCallbacks(job->work, FALSE) then
 * returns only once the pool finished the callback's epilog, return actions included:
 * Wine's tp_object_execute (dlls/ntdll/threadpool.c) runs the cleanup actions (CS,
 * mutex, semaphore, event, library) and only then decrements num_running_callbacks
 * and wakes the waiters; MSDN: "waits for outstanding work callbacks to complete".
 * The wait is short and bounded: the callback it waits for has already returned, and
 * the job's TP_WORK has no other submission (the slot is relaunched only after this
 * packet). It is called from another object's callback, which is allowed (only a
 * callback of the same TP_WORK may not wait for itself). A stamp taken after it is
 * never earlier than the last return action.
 *
 * Abandon jobs never come here (tpm_abandon_exited reports their end).
 */
static VOID CALLBACK tpm_wait_callback(PTP_CALLBACK_INSTANCE instance, PVOID context, PTP_WAIT wait, TP_WAIT_RESULT wait_result) {
  tpm_job_t *job = (tpm_job_t *)context;
  LONG64 now;

  (void)instance;
  (void)wait;
  (void)wait_result; /* armed without a timeout: always WAIT_OBJECT_0 */

  if (!tpm__pool_sets_done(job) && job->work != NULL)
    WaitForThreadpoolWorkCallbacks(job->work, FALSE);
  now = tpm__now();

  if (job->owned != 0) {
    /* Checked mode: the handle must still have been open when the pool released it
     * (a closed one raises on Windows). It is open now, so it was then: the engine
     * closes a handle only after this packet. A refusal is reported in the record;
     * the engine fails the work instead of reporting `released`. */
    if ((job->checks & TPM_CHECKED) != 0 && job->kind == TPM_KIND_MUTEX) {
      tpm_mutant_info_t info;
      if ((job->rule_status = tpm__query_mutant(job->mutex->handle, &info)) < 0)
        job->rule = TPM_RULE_HANDLE_CLOSED;
    } else if ((job->checks & TPM_CHECKED) != 0 && job->kind == TPM_KIND_SEMAPHORE) {
      tpm_semaphore_info_t info;
      if ((job->rule_status = tpm__query_semaphore(job->mutex->handle, &info)) < 0)
        job->rule = TPM_RULE_HANDLE_CLOSED;
    }
    job->ended_qpc = now;
    tpm__post(job, TPM_PACKET_RELEASED, now);
  } else {
    if (job->cancel_seen != 0)
      InterlockedExchange(&job->cancel_seen, 2); /* before the post: the record is still ours */
    tpm__post(job, TPM_PACKET_RETIRED, now);
  }
  /* The engine may recycle the record from here on: touch nothing after the post. */
}

/*
 * An abandon job's thread has exited (RegisterWaitForSingleObject on its handle, run
 * in the wait thread of the process's default pool — NOT the engine's private pool,
 * whose threads may all be busy holding: the terminal phase of an abandon must not wait
 * for a pool thread). Windows (and wineserver) abandon the mutexes a thread owned at
 * exit before its handle is signalled, so a client that sees ABANDONED finds the mutex
 * abandoned. Posts ABANDONED (a handback) if the thread acquired it, else RETIRED.
 */
static VOID CALLBACK tpm_abandon_exited(PVOID context, BOOLEAN timed_out) {
  tpm_job_t *job = (tpm_job_t *)context;
  LONG64 now = tpm__now();

  (void)timed_out; /* registered without a timeout */
  /* Non-blocking from inside its own callback (ERROR_IO_PENDING: unregistered, the
   * callback finishes); before the post, which hands the record back. */
  UnregisterWait(job->exit_wait);
  if (job->owned != 0) {
    job->ended_qpc = now;
    tpm__post(job, TPM_PACKET_ABANDONED, now);
  } else {
    if (job->cancel_seen != 0)
      InterlockedExchange(&job->cancel_seen, 2);
    tpm__post(job, TPM_PACKET_RETIRED, now);
  }
  /* The engine may recycle the record from here on: touch nothing after the post. */
}

/*
 * The dedicated thread of an abandon job (not a pool thread: the pool would release
 * what a callback registered). Same claim and acquire as a work callback; once it
 * owns the mutex it reports ACQUIRED (fencing token taken while owning) and exits
 * WITHOUT releasing: the OS abandons the mutex at the thread's exit, and the wait
 * callback on the thread handle reports ABANDONED after that.
 */
static DWORD WINAPI tpm_abandon_thread(LPVOID context) {
  tpm_job_t *job = (tpm_job_t *)context;
  LARGE_INTEGER freq;
  DWORD result;

  if (!tpm__claim_job(job))
    return 0;
  QueryPerformanceFrequency(&freq);
  tpm__report_start(job, NULL);
  if (InterlockedCompareExchange(&job->cancel_requested, 0, 0) != 0) {
    tpm__end_unowned(job, TPM_PACKET_CANCELLED);
    return 0;
  }
  if (!tpm__wait_for_object(job, freq.QuadPart, &result))
    return 0;
  tpm__report_acquired(job, result);
  return 0; /* owning the mutex: abandoned at exit */
}

/* Version and record sizes, so the engine can refuse a DLL whose layout differs from
 * its koffi structs. */
TPM_EXPORT DWORD tpm_abi(DWORD *out_version, DWORD *out_job_size, DWORD *out_mutex_size) {
  if (out_version == NULL || out_job_size == NULL || out_mutex_size == NULL)
    return ERROR_INVALID_PARAMETER;
  *out_version = TPM_ABI_VERSION;
  *out_job_size = (DWORD)sizeof(tpm_job_t);
  *out_mutex_size = (DWORD)sizeof(tpm_mutex_t);
  return 0;
}

/* The callback addresses for CreateThreadpoolWork / CreateThreadpoolWait. */
TPM_EXPORT DWORD tpm_callbacks(PTP_WORK_CALLBACK *out_work, PTP_WAIT_CALLBACK *out_wait) {
  if (out_work == NULL || out_wait == NULL)
    return ERROR_INVALID_PARAMETER;
  *out_work = tpm_work_callback;
  *out_wait = tpm_wait_callback;
  return 0;
}

/* Whether this process runs under Wine (ntdll exports wine_get_version there and
 * nowhere on Windows): the pool's return-action order differs (docs/design.md §1.3). */
TPM_EXPORT DWORD tpm_platform(LONG *out_wine) {
  HMODULE ntdll;
  if (out_wine == NULL)
    return ERROR_INVALID_PARAMETER;
  ntdll = GetModuleHandleW(L"ntdll.dll");
  *out_wine = ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL ? 1 : 0;
  return 0;
}

/* Starts an abandon job (kind TPM_KIND_ABANDON, armed like a work) on a dedicated
 * thread; *out_thread is its handle, which the engine closes after the job's handback
 * packet. The exit is watched by tpm_abandon_exited (RegisterWaitForSingleObject), which
 * posts that packet. The thread starts suspended, so the watch is in place before it
 * can touch the record. Called on the JS thread; never blocks. */
TPM_EXPORT DWORD tpm_abandon_start(tpm_job_t *job, HANDLE *out_thread) {
  HANDLE thread;
  HANDLE exit_wait = NULL;
  DWORD error;
  if (job == NULL || out_thread == NULL || job->kind != TPM_KIND_ABANDON || job->mutex == NULL)
    return ERROR_INVALID_PARAMETER;
  /* A small stack: the thread only waits. */
  thread = CreateThread(NULL, 64 * 1024, tpm_abandon_thread, job, CREATE_SUSPENDED | STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
  if (thread == NULL)
    return GetLastError();
  job->thread = thread;
  if (!RegisterWaitForSingleObject(&exit_wait, thread, tpm_abandon_exited, job, INFINITE, WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD)) {
    error = GetLastError();
    TerminateThread(thread, 0); /* suspended before its first instruction: owns nothing */
    CloseHandle(thread);
    job->thread = NULL;
    return error;
  }
  job->exit_wait = exit_wait;
  if (ResumeThread(thread) == (DWORD)-1) {
    error = GetLastError();
    UnregisterWaitEx(exit_wait, INVALID_HANDLE_VALUE); /* waits for a callback in flight: none can be */
    TerminateThread(thread, 0);
    CloseHandle(thread);
    job->thread = NULL;
    job->exit_wait = NULL;
    return error;
  }
  *out_thread = thread;
  return 0;
}

/* Test entry point (checked mode, TPM_TEST_LATE_CANCEL_POST): holds tpm_job_cancel's
 * CANCELLED post back until the callback has seen the cancel and returned and its wait
 * callback is about to post RETIRED, and a few milliseconds more, so that RETIRED
 * reaches the port first —
 * the order in which the engine hands the record back (and may launch the next work
 * into it) before the cancel's own packet arrives. Bounded: a saturated pool may not
 * run the callback for a while, and this runs on the JS thread. */
static void tpm__test_late_cancel_post(tpm_job_t *job) {
  LARGE_INTEGER freq;
  LONG64 seen_by;
  LONG64 grace;

  QueryPerformanceFrequency(&freq);
  seen_by = tpm__now() + freq.QuadPart;       /* 1 s */
  while (InterlockedCompareExchange(&job->cancel_seen, 0, 0) != 2 && tpm__now() < seen_by)
    Sleep(0);
  grace = tpm__now() + freq.QuadPart / 500;   /* 2 ms */
  while (tpm__now() < grace)
    Sleep(0);
}

/* Test entry point (checked mode, TPM_TEST_ABORT_TAKEN): tpm_job_abort returns only
 * once the job's own thread has taken the abort in — a wait or a hold woke on the
 * signal event and reset it — or its callback has returned. close() aborts one job
 * after the other, so a holder's hold has surely woken on the bare event (and must
 * sleep on) before a waiter on its object is told anything: the order a loaded machine
 * gives only now and then. Bounded (1 s): a spinning thread does not look at the
 * event, and this runs on the JS thread. */
static void tpm__test_abort_taken(tpm_job_t *job) {
  LARGE_INTEGER freq;
  LONG64 by;

  QueryPerformanceFrequency(&freq);
  by = tpm__now() + freq.QuadPart;
  while (WaitForSingleObject(job->signal, 0) == WAIT_OBJECT_0 && job->returned_qpc == 0 && job->ended_qpc == 0 &&
         tpm__now() < by)
    Sleep(0);
}

/* Ends the spin/hold now; before the acquire it is kept and ends the hold at once.
 * Called on the JS thread; never blocks. */
TPM_EXPORT DWORD tpm_job_signal(tpm_job_t *job) {
  if (job == NULL || job->signal == NULL)
    return ERROR_INVALID_PARAMETER;
  InterlockedExchange(&job->signal_requested, 1); /* flag first, then the event */
  if (!SetEvent(job->signal))
    return GetLastError();
  return 0;
}

/*
 * Both cancels. A job not yet claimed by its callback is cancelled here and now (its
 * CANCELLED packet is posted from this thread, so a saturated pool does not delay it;
 * the callback, when it runs, sees the state and returns at once). A claimed job gets
 * the cancel flag and the signal event, and with end_hold the signal flag too.
 * *out_was_queued tells which. Called on the JS thread; never blocks.
 */
static DWORD tpm__cancel(tpm_job_t *job, LONG *out_was_queued, int end_hold) {
  if (job == NULL || job->signal == NULL || out_was_queued == NULL)
    return ERROR_INVALID_PARAMETER;
  *out_was_queued = 0;
  if (InterlockedCompareExchange(&job->state, TPM_JOB_CANCELLED, TPM_JOB_QUEUED) == TPM_JOB_QUEUED) {
    *out_was_queued = 1;
    if ((job->checks & (TPM_CHECKED | TPM_TEST_LATE_CANCEL_POST)) == (TPM_CHECKED | TPM_TEST_LATE_CANCEL_POST))
      tpm__test_late_cancel_post(job);
    job->ended_qpc = tpm__now();
    if (!PostQueuedCompletionStatus(job->port, TPM_PACKET_CANCELLED, job->key, (LPOVERLAPPED)(ULONG_PTR)job->ended_qpc))
      return GetLastError();
    return 0;
  }
  InterlockedExchange(&job->cancel_requested, 1); /* flags first, then the event */
  if (end_hold)
    InterlockedExchange(&job->signal_requested, 1);
  if (!SetEvent(job->signal))
    return GetLastError();
  if (!end_hold && (job->checks & (TPM_CHECKED | TPM_TEST_ABORT_TAKEN)) == (TPM_CHECKED | TPM_TEST_ABORT_TAKEN))
    tpm__test_abort_taken(job);
  return 0;
}

/* Cancels: a queued job at once; a wait is aborted, a spin/hold ends like a signal. */
TPM_EXPORT DWORD tpm_job_cancel(tpm_job_t *job, LONG *out_was_queued) {
  return tpm__cancel(job, out_was_queued, 1);
}

/*
 * Cancels a job unless its thread holds what it acquired, for close(), which calls
 * this for every job before it ends any hold with tpm_job_cancel: a hold ended first
 * frees the mutex or semaphore unit, and a waiter whose cancel had not come yet would
 * take it over instead of ending cancelled.
 *
 * A queued job is cancelled at once, as by tpm_job_cancel. A claimed job gets the
 * cancel flag and the signal event, but not signal_requested. So a job still before or
 * in its wait ends cancelled: the check before the wait sees the flag, and the wait
 * reports the event first even when the object is free as well (see tpm__acquire). A
 * job whose wait got the object goes on: neither the spin nor the hold ends without
 * signal_requested (tpm__hold sleeps on), and nothing after the wait looks at
 * cancel_requested. An abandon thread that owns the mutex exits as ever. Who holds is
 * thus settled by the job's own thread, at the moment its wait returns, not by what
 * the engine has read (a holder's ACQUIRED may still be on the port) nor by `owned`
 * (written a few steps after the wait returned).
 */
TPM_EXPORT DWORD tpm_job_abort(tpm_job_t *job, LONG *out_was_queued) {
  return tpm__cancel(job, out_was_queued, 0);
}
