/*
 * tpmutex-bench-loop: the raw native baseline of the win32 engine's benchmarks.
 *
 * The same pool/mutex operations as src/engine/win32/engine.ts, with the real shim
 * (src/native/shim.c, loaded from the DLL path in argv) but no JavaScript, no koffi and
 * no HTTP: a private pool with min/max threads, a callback environment with a cleanup
 * group, one completion port, CreateMutexExW + a tpm_mutex_t per mutex, and per work a
 * recycled tpm_job_t with its signal/done events, TP_WORK and TP_WAIT. Like the engine,
 * at most maxThreads works are in the pool at once (the rest wait in a FIFO, moved in
 * when a RELEASED packet hands a record back), and the packets are drained with
 * GetQueuedCompletionStatusEx in batches of 64 — here on the main thread. Every run
 * makes an untimed warm-up pass of the same works first (pool grown, records created),
 * as the service it is compared with is warm; only the second pass is reported.
 *
 *   tpmutex-bench-loop <shim.dll> throughput <works> <mutexes> <minThreads> <maxThreads>
 *   tpmutex-bench-loop <shim.dll> handoff <works> <minThreads> <maxThreads>
 *
 * Output: one JSON line on stdout. A Win32 failure: a message on stderr, exit code 1
 * (usage errors: 2). Driven by test/bench/native-loop.ts.
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -static-libgcc -municode
 * (wmain: the DLL path reaches LoadLibraryW without an ANSI round trip).
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00 /* as shim.c: thread-pool API v3 */
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- Copied from src/native/shim.c: must stay identical (checked against tpm_abi). */

#define TPM_ABI_VERSION 4

enum {
  TPM_PACKET_STARTED = 1,
  TPM_PACKET_ACQUIRED = 2,
  TPM_PACKET_RETURNED = 3,
  TPM_PACKET_RELEASED = 4,
  TPM_PACKET_TIMED_OUT = 5,
  TPM_PACKET_CANCELLED = 6,
  TPM_PACKET_FAILED = 7,
  TPM_PACKET_RETIRED = 8
};

typedef struct tpm_mutex_s {
  HANDLE handle;
  volatile LONG64 fencing;
} tpm_mutex_t;

typedef struct tpm_job_s {
  HANDLE port;
  ULONG_PTR key;
  tpm_mutex_t *mutex;
  HANDLE signal;
  HANDLE done;
  DWORD acquire_timeout_ms;
  DWORD spin_ms;
  DWORD hold_ms;
  LONG may_run_long;
  volatile LONG state;
  volatile LONG signal_requested;
  volatile LONG cancel_requested;
  DWORD thread_id;
  LONG may_run_long_result;
  DWORD wait_result;
  LONG owned;
  LONG abandoned;
  LONG signaled;
  DWORD error;
  DWORD error_fn;
  DWORD post_error;
  LONG checks;                /* 0 here: the baseline runs unchecked, like the service by default */
  LONG actions;
  LONG rule;
  LONG rule_status;
  LONG rule_count;
  LONG rule_owned;
  volatile LONG cancel_seen;
  LONG64 fencing_token;
  LONG64 started_qpc;
  LONG64 acquired_qpc;
  LONG64 returned_qpc;
  LONG64 ended_qpc;
  LONG kind;          /* 1: TPM_KIND_MUTEX */
  HANDLE user_event;  /* setEventOnReturn: none here */
  PTP_WORK work;      /* the wait callback waits for this TP_WORK's epilog (ABI 3) */
  HANDLE thread;      /* abandon jobs only */
  HANDLE exit_wait;   /* abandon jobs only */
} tpm_job_t;

typedef DWORD (*tpm_abi_fn)(DWORD *out_version, DWORD *out_job_size, DWORD *out_mutex_size);
typedef DWORD (*tpm_callbacks_fn)(PTP_WORK_CALLBACK *out_work, PTP_WAIT_CALLBACK *out_wait);

/* ---- The loop. */

#define DRAIN_BATCH 64            /* as engine.ts */
#define ACQUIRE_TIMEOUT_MS 60000  /* as the JS benchmarks' works */
#define IDLE_LIMIT_MS 120000      /* no packet for this long: something is stuck, fail */

/* A recyclable record with its events and thread-pool objects (the engine's Slot). */
typedef struct slot_s {
  tpm_job_t record; /* the callbacks' context: slots never move once allocated */
  HANDLE signal;
  HANDLE done;
  PTP_WORK work;
  PTP_WAIT wait;
  LONG job;         /* index of the work using it, -1 while free */
} slot_t;

/* What a work leaves behind once its record is recycled. */
typedef struct work_s {
  DWORD mutex;
  LONG64 token;
  LONG64 acquired_qpc;
  LONG64 returned_qpc;
  LONG64 released_qpc; /* the RELEASED packet's stamp (= the record's ended_qpc) */
} work_t;

typedef struct loop_s {
  PTP_WORK_CALLBACK work_callback;
  PTP_WAIT_CALLBACK wait_callback;
  LONG64 freq;
  HANDLE port;
  PTP_POOL pool;
  PTP_CLEANUP_GROUP group;
  TP_CALLBACK_ENVIRON environment;
  DWORD max_threads;
  DWORD mutex_count;
  tpm_mutex_t *mutexes;
  slot_t *slots;     /* max_threads of them: admission never needs more */
  DWORD created;     /* slots with their objects created */
  DWORD *free_slots; /* stack of slot indices */
  DWORD free_count;
  DWORD in_pool;
  DWORD works;
  work_t *work;
  DWORD submitted;   /* works handed to the loop (the engine's submit) */
  DWORD launched;    /* works given to the pool; [launched, submitted) is the FIFO */
  DWORD released;
  LONG64 finished_qpc;
  LONG64 token_base; /* mutex 0's fencing counter before the measured pass (handoff) */
} loop_t;

static LONG64 now_qpc(void) {
  LARGE_INTEGER now;
  QueryPerformanceCounter(&now);
  return now.QuadPart;
}

/* Reports a failed Win32 call; GetLastError() must still be the call's. Returns 1. */
static int fail(const char *fn) {
  DWORD code = GetLastError();
  fprintf(stderr, "tpmutex-bench-loop: %s failed: Win32 error %lu\n", fn, code);
  return 1;
}

/* A record with its events, TP_WORK and TP_WAIT (the engine's createSlot). The pool
 * objects join the cleanup group, so closing its members closes them. */
static int create_slot(loop_t *l, DWORD *out_index) {
  slot_t *slot = &l->slots[l->created];
  int result;

  slot->signal = CreateEventExW(NULL, NULL, CREATE_EVENT_MANUAL_RESET, EVENT_ALL_ACCESS);
  if (slot->signal == NULL)
    return fail("CreateEventExW");
  slot->done = CreateEventExW(NULL, NULL, 0, EVENT_ALL_ACCESS); /* auto-reset: consumed by the wait */
  if (slot->done == NULL) {
    result = fail("CreateEventExW");
    goto undo_signal;
  }
  slot->wait = CreateThreadpoolWait(l->wait_callback, &slot->record, &l->environment);
  if (slot->wait == NULL) {
    result = fail("CreateThreadpoolWait");
    goto undo_done;
  }
  slot->work = CreateThreadpoolWork(l->work_callback, &slot->record, &l->environment);
  if (slot->work == NULL) {
    result = fail("CreateThreadpoolWork");
    CloseThreadpoolWait(slot->wait);
    goto undo_done;
  }
  slot->job = -1;
  *out_index = l->created++;
  return 0;

undo_done:
  CloseHandle(slot->done);
undo_signal:
  CloseHandle(slot->signal);
  return result;
}

/* Gives work i to the pool: a (recycled) record filled in full, its events reset, the
 * wait armed, then SubmitThreadpoolWork — the engine's launch(), step for step. */
static int launch(loop_t *l, DWORD i) {
  DWORD index;
  slot_t *slot;
  tpm_job_t *r;

  if (l->free_count > 0)
    index = l->free_slots[--l->free_count];
  else if (create_slot(l, &index) != 0)
    return 1;
  slot = &l->slots[index];
  r = &slot->record;
  memset(r, 0, sizeof(*r));
  r->port = l->port;
  r->key = index;
  r->mutex = &l->mutexes[l->work[i].mutex];
  r->signal = slot->signal;
  r->done = slot->done;
  r->kind = 1; /* TPM_KIND_MUTEX */
  r->work = slot->work;
  r->acquire_timeout_ms = ACQUIRE_TIMEOUT_MS;
  r->may_run_long_result = -1;
  /* A recycled slot's events may still be set from its last work. */
  if (!ResetEvent(slot->signal) || !ResetEvent(slot->done)) {
    l->free_slots[l->free_count++] = index;
    return fail("ResetEvent");
  }
  SetThreadpoolWait(slot->wait, slot->done, NULL);
  slot->job = (LONG)i;
  l->in_pool++;
  SubmitThreadpoolWork(slot->work);
  return 0;
}

/* Moves waiting works into the pool while it has room (the engine's pump). */
static int pump(loop_t *l) {
  while (l->in_pool < l->max_threads && l->launched < l->submitted) {
    if (launch(l, l->launched) != 0)
      return 1;
    l->launched++;
  }
  return 0;
}

/* The engine's submit(): into the pool if it has room and nobody waits, else the FIFO. */
static int submit(loop_t *l) {
  l->submitted++;
  return pump(l);
}

static int on_packet(loop_t *l, ULONG_PTR key, DWORD kind, LONG64 stamp) {
  slot_t *slot;
  work_t *w;

  if (key >= l->created || l->slots[key].job < 0)
    return 0; /* the engine ignores such packets too */
  slot = &l->slots[key];
  w = &l->work[slot->job];
  switch (kind) {
  case TPM_PACKET_STARTED:
    return 0;
  case TPM_PACKET_RETURNED:
    w->returned_qpc = stamp;
    return 0;
  case TPM_PACKET_ACQUIRED:
    w->token = slot->record.fencing_token - l->token_base; /* written before the packet was posted */
    w->acquired_qpc = stamp;
    return 0;
  case TPM_PACKET_RELEASED:
    /* The wait callback's packet: no pool thread touches the record any more. */
    w->released_qpc = stamp;
    slot->job = -1;
    l->free_slots[l->free_count++] = (DWORD)key;
    l->in_pool--;
    if (++l->released == l->works)
      l->finished_qpc = now_qpc();
    return pump(l);
  default:
    /* Timed out, cancelled, failed (or retired after those): the run is not valid. */
    fprintf(stderr, "tpmutex-bench-loop: work %ld ended with packet %lu (wait result %lu, error %lu, fn %lu)\n",
            slot->job, kind, slot->record.wait_result, slot->record.error, slot->record.error_fn);
    return 1;
  }
}

/* The engine's drain loop, on this thread, until every work's RELEASED arrived. */
static int drain(loop_t *l) {
  OVERLAPPED_ENTRY entries[DRAIN_BATCH];
  ULONG count;
  ULONG i;

  while (l->released < l->works) {
    if (!GetQueuedCompletionStatusEx(l->port, entries, DRAIN_BATCH, &count, IDLE_LIMIT_MS, FALSE))
      return fail("GetQueuedCompletionStatusEx");
    for (i = 0; i < count; i++) {
      if (on_packet(l, entries[i].lpCompletionKey, entries[i].dwNumberOfBytesTransferred,
                    (LONG64)(ULONG_PTR)entries[i].lpOverlapped) != 0)
        return 1;
    }
  }
  return 0;
}

/* Pool, cleanup group, environment, port, mutexes, bookkeeping (the engine's start()
 * and openMutex()). Whatever was made is undone by close_loop, also on failure. */
static int open_loop(loop_t *l, DWORD min_threads) {
  DWORD i;
  DWORD pid = GetCurrentProcessId();
  wchar_t name[64];
  LARGE_INTEGER freq;

  QueryPerformanceFrequency(&freq);
  l->freq = freq.QuadPart;
  l->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (l->port == NULL)
    return fail("CreateIoCompletionPort");
  l->pool = CreateThreadpool(NULL);
  if (l->pool == NULL)
    return fail("CreateThreadpool");
  if (!SetThreadpoolThreadMinimum(l->pool, min_threads))
    return fail("SetThreadpoolThreadMinimum");
  SetThreadpoolThreadMaximum(l->pool, l->max_threads);
  l->group = CreateThreadpoolCleanupGroup();
  if (l->group == NULL)
    return fail("CreateThreadpoolCleanupGroup");
  /* The engine fills the same struct by hand: Version 3, NORMAL priority, Size 72. */
  InitializeThreadpoolEnvironment(&l->environment);
  SetThreadpoolCallbackPool(&l->environment, l->pool);
  SetThreadpoolCallbackCleanupGroup(&l->environment, l->group, NULL);

  l->mutexes = calloc(l->mutex_count, sizeof(*l->mutexes));
  l->slots = calloc(l->max_threads, sizeof(*l->slots));
  l->free_slots = calloc(l->max_threads, sizeof(*l->free_slots));
  l->work = calloc(l->works, sizeof(*l->work));
  if (l->mutexes == NULL || l->slots == NULL || l->free_slots == NULL || l->work == NULL) {
    fprintf(stderr, "tpmutex-bench-loop: out of memory\n");
    return 1;
  }
  for (i = 0; i < l->mutex_count; i++) {
    /* Per-process names: two runs (or a service under test) never share a mutex. */
    _snwprintf(name, sizeof(name) / sizeof(name[0]), L"Local\\tpmutex-bench-loop-%lu-%lu", pid, i);
    name[sizeof(name) / sizeof(name[0]) - 1] = L'\0';
    l->mutexes[i].handle = CreateMutexExW(NULL, name, 0, MUTEX_ALL_ACCESS);
    if (l->mutexes[i].handle == NULL)
      return fail("CreateMutexExW");
  }
  return 0;
}

/* The engine's shutdown and releaseNative: cancel what never started, wait for the
 * running callbacks (none after a complete run), then close everything. */
static void close_loop(loop_t *l) {
  DWORD i;
  if (l->group != NULL) {
    CloseThreadpoolCleanupGroupMembers(l->group, TRUE, NULL);
    CloseThreadpoolCleanupGroup(l->group);
  }
  if (l->pool != NULL)
    CloseThreadpool(l->pool);
  for (i = 0; i < l->created; i++) {
    CloseHandle(l->slots[i].signal);
    CloseHandle(l->slots[i].done);
  }
  for (i = 0; l->mutexes != NULL && i < l->mutex_count; i++) {
    if (l->mutexes[i].handle != NULL)
      CloseHandle(l->mutexes[i].handle);
  }
  if (l->port != NULL)
    CloseHandle(l->port);
  free(l->mutexes);
  free(l->slots);
  free(l->free_slots);
  free(l->work);
}

/* One pass: submits every work up front, as the JS benchmarks do, then drains. */
static int pass(loop_t *l, LONG64 *out_began) {
  DWORD i;
  l->submitted = l->launched = l->released = 0;
  for (i = 0; i < l->works; i++)
    l->work[i].mutex = i % l->mutex_count; /* round-robin */
  *out_began = now_qpc();
  for (i = 0; i < l->works; i++) {
    if (submit(l) != 0)
      return 1;
  }
  return drain(l);
}

/* An untimed warm-up pass of the same works, then the measured one. The service this
 * is compared with is warm (its pool grown, its records created by the bench's warm-up
 * round), so the baseline is too: no pool growth or record creation is timed. The
 * fencing tokens of the measured pass count from 1 again (token_base). */
static int run(loop_t *l, LONG64 *out_began) {
  if (pass(l, out_began) != 0)
    return 1;
  l->token_base = l->mutexes[0].fencing;
  return pass(l, out_began);
}

static int compare_ll(const void *a, const void *b) {
  LONG64 x = *(const LONG64 *)a, y = *(const LONG64 *)b;
  return (x > y) - (x < y);
}

/* As percentile() in test/bench/stats.ts: the ceil(p% * n)-th smallest. */
static LONG64 percentile(const LONG64 *sorted, DWORD n, DWORD p) {
  LONG64 index = ((LONG64)p * n + 99) / 100 - 1;
  if (index < 0)
    index = 0;
  return sorted[index];
}

/*
 * released(prev) → acquired(next) in ns, pairing consecutive fencing tokens (as
 * test/bench/handoff.ts), and returned(prev) → acquired(next). Writes the JSON line;
 * 1 if the tokens are not 1..works.
 *
 * Why both: the RELEASED stamp is taken in the wait callback, which runs after the pool
 * released the mutex and set `done` — by then the next waiter has usually woken and
 * stamped its acquisition, so the first figure is mostly negative (the engine clamps
 * its published `released` to the next `acquired` for that reason, docs/design.md §1.4). The
 * RETURNED stamp is the last thing before the pool's release, so the second figure is
 * the honest upper bound of the handoff itself.
 */
static int report_handoff(const loop_t *l) {
  DWORD *by_token = calloc((size_t)l->works + 1, sizeof(*by_token));
  LONG64 *gaps = calloc(l->works, sizeof(*gaps));
  LONG64 *from_returned = calloc(l->works, sizeof(*from_returned));
  DWORD i, n = 0;
  int result = 1;

  if (by_token == NULL || gaps == NULL || from_returned == NULL) {
    fprintf(stderr, "tpmutex-bench-loop: out of memory\n");
    goto done;
  }
  for (i = 0; i < l->works; i++) {
    LONG64 t = l->work[i].token;
    if (t < 1 || t > (LONG64)l->works || by_token[t] != 0) {
      fprintf(stderr, "tpmutex-bench-loop: work %lu has fencing token %lld (not a permutation of 1..%lu)\n", i, t, l->works);
      goto done;
    }
    by_token[t] = i + 1; /* 0 = not seen */
  }
  for (i = 1; i < l->works; i++) {
    const work_t *prev = &l->work[by_token[i] - 1];
    const work_t *next = &l->work[by_token[i + 1] - 1];
    gaps[n] = (next->acquired_qpc - prev->released_qpc) * 1000000000LL / l->freq;
    from_returned[n] = (next->acquired_qpc - prev->returned_qpc) * 1000000000LL / l->freq;
    n++;
  }
  qsort(gaps, n, sizeof(*gaps), compare_ll);
  qsort(from_returned, n, sizeof(*from_returned), compare_ll);
  printf("{\"mode\":\"handoff\",\"works\":%lu,\"p50Ns\":%lld,\"p99Ns\":%lld,\"returnedP50Ns\":%lld,\"returnedP99Ns\":%lld}\n",
         l->works, percentile(gaps, n, 50), percentile(gaps, n, 99),
         percentile(from_returned, n, 50), percentile(from_returned, n, 99));
  result = 0;
done:
  free(by_token);
  free(gaps);
  free(from_returned);
  return result;
}

static int usage(void) {
  fputs("usage: tpmutex-bench-loop <shim.dll> throughput <works> <mutexes> <minThreads> <maxThreads>\n"
        "       tpmutex-bench-loop <shim.dll> handoff <works> <minThreads> <maxThreads>\n", stderr);
  return 2;
}

/* A positive DWORD, or 0 for anything else. */
static DWORD count_arg(const wchar_t *text) {
  wchar_t *end;
  unsigned long value = wcstoul(text, &end, 10);
  return (*text == L'\0' || *end != L'\0' || value > 0xfffffffful) ? 0 : (DWORD)value;
}

int wmain(int argc, wchar_t **argv) {
  loop_t l;
  HMODULE dll;
  tpm_abi_fn abi;
  tpm_callbacks_fn callbacks;
  DWORD version = 0, job_size = 0, mutex_size = 0, min_threads;
  int throughput;
  LONG64 began;
  int result = 1;

  memset(&l, 0, sizeof(l));
  if (argc < 3)
    return usage();
  throughput = wcscmp(argv[2], L"throughput") == 0;
  if (throughput ? argc != 7 : (wcscmp(argv[2], L"handoff") != 0 || argc != 6))
    return usage();
  l.works = count_arg(argv[3]);
  l.mutex_count = throughput ? count_arg(argv[4]) : 1;
  min_threads = count_arg(argv[argc - 2]);
  l.max_threads = count_arg(argv[argc - 1]);
  if (l.works < (throughput ? 1u : 2u) || l.mutex_count == 0 || min_threads == 0 || l.max_threads < min_threads)
    return usage();

  dll = LoadLibraryW(argv[1]);
  if (dll == NULL)
    return fail("LoadLibraryW");
  /* Through void (*)(void): GetProcAddress's FARPROC is not the export's real type. */
  abi = (tpm_abi_fn)(void (*)(void))GetProcAddress(dll, "tpm_abi");
  callbacks = (tpm_callbacks_fn)(void (*)(void))GetProcAddress(dll, "tpm_callbacks");
  if (abi == NULL || callbacks == NULL) {
    fail("GetProcAddress");
    goto unload;
  }
  /* The records are shared with the DLL: refuse one whose layout differs from ours. */
  if (abi(&version, &job_size, &mutex_size) != 0 || version != TPM_ABI_VERSION ||
      job_size != sizeof(tpm_job_t) || mutex_size != sizeof(tpm_mutex_t)) {
    fprintf(stderr, "tpmutex-bench-loop: the shim does not match this loop (ABI %lu/%d, job %lu/%u bytes, mutex %lu/%u bytes)\n",
            version, TPM_ABI_VERSION, job_size, (unsigned)sizeof(tpm_job_t), mutex_size, (unsigned)sizeof(tpm_mutex_t));
    goto unload;
  }
  if (callbacks(&l.work_callback, &l.wait_callback) != 0) {
    fputs("tpmutex-bench-loop: tpm_callbacks failed\n", stderr);
    goto unload;
  }

  if (open_loop(&l, min_threads) == 0 && run(&l, &began) == 0) {
    if (throughput) {
      double seconds = (double)(l.finished_qpc - began) / (double)l.freq;
      printf("{\"mode\":\"throughput\",\"works\":%lu,\"seconds\":%.6f,\"worksPerSec\":%.0f}\n",
             l.works, seconds, l.works / seconds);
      result = 0;
    } else {
      result = report_handoff(&l);
    }
  }
  /* Every callback has returned before the DLL goes (close_loop waits for them). */
  close_loop(&l);
  fflush(stdout);
unload:
  FreeLibrary(dll);
  return result;
}
