/*
 * tpmutex drain requests: the ways Windows (or an operator) asks the service to shut
 * down that never reach JavaScript as a signal, compiled into the same DLL as shim.c.
 *
 * - A named manual-reset event, Local\tpmutex-<pid>-shutdown: setting it asks the
 *   service to drain (an ops script, a test harness, a supervisor: anything in the
 *   session that may open it; the default DACL admits the same account only).
 * - A console control handler for CTRL_CLOSE_EVENT (console window closed) and
 *   CTRL_SHUTDOWN_EVENT (system shutdown; `docker stop` of a Windows container).
 *   libuv turns CTRL_CLOSE into SIGHUP and drops CTRL_SHUTDOWN, and Windows ends the
 *   process as soon as the handler returns. So the handler sets the same event and
 *   then keeps the process alive until the service says the drain is done (the
 *   `done` event) or the bound for that event elapses.
 *
 * The service polls the request with tpm_drain_poll, which never blocks. CTRL_C and
 * CTRL_BREAK are left to libuv, which delivers them as SIGINT and SIGBREAK.
 *
 * Same error model as shim.c: every exported function returns 0 or a Win32 error
 * code and writes results through out-pointers; nothing here aborts or exits.
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#define TPM_EXPORT __declspec(dllexport)

/* Why the drain was requested (tpm_drain_poll's *out_reason). Keep in sync with
 * src/engine/win32/drain-request.ts. */
enum {
  TPM_DRAIN_NONE = 0,           /* no drain requested (yet) */
  TPM_DRAIN_EVENT = 1,          /* the named event was set from outside */
  TPM_DRAIN_CTRL_CLOSE = 2,     /* CTRL_CLOSE_EVENT */
  TPM_DRAIN_CTRL_SHUTDOWN = 3   /* CTRL_SHUTDOWN_EVENT */
};

typedef struct tpm_drain_s {
  HANDLE request;              /* the named event: set = drain requested */
  HANDLE done;                 /* set by the service once the drain finished */
  volatile LONG reason;        /* first TPM_DRAIN_CTRL_* seen; 0 = none */
  DWORD close_bound_ms;        /* longest wait in the handler for CTRL_CLOSE_EVENT */
  DWORD shutdown_bound_ms;     /* ... and for CTRL_SHUTDOWN_EVENT */
} tpm_drain_t;

/* The one piece of process-wide state in the DLL, and it cannot be avoided: a console
 * control handler routine receives no context argument, so the handler finds the
 * installed drain request here. Written only by install/uninstall. */
static tpm_drain_t *volatile tpm__installed;

static BOOL WINAPI tpm__console_ctrl_handler(DWORD ctrl_type) {
  tpm_drain_t *drain;
  LONG reason;
  DWORD bound;

  switch (ctrl_type) {
  case CTRL_CLOSE_EVENT:
    reason = TPM_DRAIN_CTRL_CLOSE;
    break;
  case CTRL_SHUTDOWN_EVENT:
    reason = TPM_DRAIN_CTRL_SHUTDOWN;
    break;
  default:
    /* CTRL_C and CTRL_BREAK: the next handler (libuv's) makes them SIGINT/SIGBREAK.
     * CTRL_LOGOFF: a service gets it whenever *any* user logs off, so it is not a
     * reason to stop. */
    return FALSE;
  }
  drain = (tpm_drain_t *)InterlockedCompareExchangePointer((PVOID volatile *)&tpm__installed, NULL, NULL);
  if (drain == NULL)
    return FALSE;
  bound = reason == TPM_DRAIN_CTRL_CLOSE ? drain->close_bound_ms : drain->shutdown_bound_ms;
  InterlockedCompareExchange(&drain->reason, reason, 0); /* before the event: the poller reads it */
  SetEvent(drain->request);
  /* Windows terminates the process when this returns: wait for the drain. A failed
   * wait cannot be helped here; returning still ends the process as Windows wants. */
  WaitForSingleObject(drain->done, bound);
  return TRUE;
}

/*
 * Creates the drain request: the named event `name` (manual reset, not set) and the
 * unnamed `done` event. *out_existed is 1 when an event of that name already existed
 * (it is reset: a request must come after the service started). Bounds in ms.
 */
TPM_EXPORT DWORD tpm_drain_open(const WCHAR *name, DWORD close_bound_ms, DWORD shutdown_bound_ms,
                                tpm_drain_t **out_drain, LONG *out_existed) {
  tpm_drain_t *drain;
  DWORD err;

  if (name == NULL || out_drain == NULL || out_existed == NULL)
    return ERROR_INVALID_PARAMETER;
  *out_drain = NULL;
  *out_existed = 0;
  drain = (tpm_drain_t *)HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(*drain));
  if (drain == NULL)
    return ERROR_NOT_ENOUGH_MEMORY;
  drain->close_bound_ms = close_bound_ms;
  drain->shutdown_bound_ms = shutdown_bound_ms;
  drain->request = CreateEventW(NULL, TRUE, FALSE, name);
  if (drain->request == NULL) {
    err = GetLastError();
    HeapFree(GetProcessHeap(), 0, drain);
    return err;
  }
  if (GetLastError() == ERROR_ALREADY_EXISTS) {
    *out_existed = 1;
    if (!ResetEvent(drain->request)) {
      err = GetLastError();
      CloseHandle(drain->request);
      HeapFree(GetProcessHeap(), 0, drain);
      return err;
    }
  }
  drain->done = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (drain->done == NULL) {
    err = GetLastError();
    CloseHandle(drain->request);
    HeapFree(GetProcessHeap(), 0, drain);
    return err;
  }
  *out_drain = drain;
  return 0;
}

/* Makes the console control handler start this drain. One drain request per process:
 * ERROR_ALREADY_EXISTS if another is installed. */
TPM_EXPORT DWORD tpm_drain_install(tpm_drain_t *drain) {
  if (drain == NULL)
    return ERROR_INVALID_PARAMETER;
  if (InterlockedCompareExchangePointer((PVOID volatile *)&tpm__installed, drain, NULL) != NULL)
    return ERROR_ALREADY_EXISTS;
  if (!SetConsoleCtrlHandler(tpm__console_ctrl_handler, TRUE)) {
    DWORD err = GetLastError();
    InterlockedExchangePointer((PVOID volatile *)&tpm__installed, NULL);
    return err;
  }
  return 0;
}

/*
 * Never blocks: *out_reason is TPM_DRAIN_EVENT or TPM_DRAIN_CTRL_* once the drain was
 * requested, TPM_DRAIN_NONE until then. The service polls it from a timer: a blocking
 * wait would hold one of libuv's pool threads for the life of the process, and Node 22
 * on Windows sizes that pool before the service's first line runs.
 */
TPM_EXPORT DWORD tpm_drain_poll(tpm_drain_t *drain, DWORD *out_reason) {
  DWORD result;

  if (drain == NULL || out_reason == NULL)
    return ERROR_INVALID_PARAMETER;
  *out_reason = TPM_DRAIN_NONE;
  result = WaitForSingleObject(drain->request, 0);
  if (result == WAIT_FAILED)
    return GetLastError();
  if (result == WAIT_OBJECT_0) {
    LONG reason = InterlockedCompareExchange(&drain->reason, 0, 0);
    *out_reason = reason != 0 ? (DWORD)reason : TPM_DRAIN_EVENT;
  }
  return 0;
}

/* The drain finished: a handler waiting in tpm__console_ctrl_handler returns (and
 * Windows ends the process). Never blocks. */
TPM_EXPORT DWORD tpm_drain_done(tpm_drain_t *drain) {
  if (drain == NULL)
    return ERROR_INVALID_PARAMETER;
  if (!SetEvent(drain->done))
    return GetLastError();
  return 0;
}

/*
 * Frees the drain; an installed one is only uninstalled. A handler thread may have read
 * tpm__installed just before the uninstall and still use the record and its events, so
 * those of an installed drain stay allocated (one record per process, at its end).
 */
TPM_EXPORT DWORD tpm_drain_close(tpm_drain_t *drain) {
  if (drain == NULL)
    return ERROR_INVALID_PARAMETER;
  if (InterlockedCompareExchangePointer((PVOID volatile *)&tpm__installed, NULL, drain) == drain) {
    SetConsoleCtrlHandler(tpm__console_ctrl_handler, FALSE);
    return 0;
  }
  CloseHandle(drain->request);
  CloseHandle(drain->done);
  HeapFree(GetProcessHeap(), 0, drain);
  return 0;
}

/*
 * Test entry point: runs the installed handler routine for `ctrl_type` on the calling
 * thread, as the thread Windows creates for a console control event would (blocking:
 * call it through koffi `.async`). *out_handled is the routine's BOOL. This is how a
 * test under Wine reaches the CTRL_CLOSE/CTRL_SHUTDOWN paths, which Wine cannot send.
 */
TPM_EXPORT DWORD tpm_console_ctrl_invoke(DWORD ctrl_type, LONG *out_handled) {
  if (out_handled == NULL)
    return ERROR_INVALID_PARAMETER;
  *out_handled = tpm__console_ctrl_handler(ctrl_type) ? 1 : 0;
  return 0;
}
