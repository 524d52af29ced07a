/**
 * Every kind of problem the API answers with: its slug (the type is
 * `urn:tpmutex:problem:<slug>`), the status it comes with, and what it means. The
 * Problem schema's `type` enum, the OpenAPI document and the README's error table are
 * all this list; a problem with a slug not listed here does not type-check.
 */
export const PROBLEM_TYPES = {
  'validation': [400, 'A body, query, path or header value is invalid; `errors[]` names each bad field'],
  'malformed-json': [400, 'The body is not valid JSON'],
  'empty-body': [400, 'A JSON content-type with an empty body'],
  'bad-content-length': [400, 'The Content-Length header does not match the body'],
  'malformed-url': [400, 'The URL does not decode (bad percent-encoding)'],
  'bad-request': [400, 'Another malformed request'],
  'malformed-request': [400, 'Not valid HTTP/1.1; the connection is closed after the answer'],
  'name-invalid': [400, 'The OS rejected the name'],
  'pool-limits-invalid': [400, 'minThreads/maxThreads the pool cannot take'],
  'unauthorized': [401, 'Tokens are configured and none, or a wrong one, was sent'],
  'name-not-allowed': [403, 'The name policy (OBJECT_ALLOW, formerly MUTEX_ALLOW) refuses the name'],
  'global-names-disabled': [403, 'A Global\\ name while OBJECT_GLOBAL (formerly MUTEX_GLOBAL) is off'],
  'access-denied': [403, 'The mutex exists and refuses this process the access it needs (SYNCHRONIZE | MUTEX_MODIFY_STATE)'],
  'privilege-required': [403, 'Creating a Global\\ object needs SeCreateGlobalPrivilege, which this process lacks'],
  'route-not-found': [404, 'No route has this path'],
  'work-not-found': [404, 'No work with this id was submitted to this server process'],
  'work-evicted': [404, 'The work finished and left the history (WORK_HISTORY)'],
  'work-unknown': [404, 'The engine knows no work with this id'],
  'mutex-not-open': [404, 'The mutex is not open in this service'],
  'object-not-open': [404, 'The semaphore or event object is not open in this service'],
  'method-not-allowed': [405, 'The path does not answer this method; `Allow` lists the ones it does'],
  'mutex-in-use': [409, 'Closing a mutex while work on it is queued, waiting or holding'],
  'object-in-use': [409, 'Closing a semaphore or event object while a work that acquires or sets it has not ended'],
  'work-finished': [409, 'Signalling, cancelling or keeping alive a work that already ended'],
  'lease-expired': [409, 'A keepalive came after the work\'s lease ran out: the service ended the hold (or cancelled the wait)'],
  'name-conflict': [409, 'The name belongs to another kind of kernel object (an event, a semaphore…)'],
  'request-timeout': [408, 'The request was not received in time; the connection is closed after the answer'],
  'body-too-large': [413, 'The body is larger than BODY_LIMIT'],
  'unsupported-media-type': [415, 'A body that is not application/json'],
  'idempotency-key-reused': [422, 'The same Idempotency-Key with a different request'],
  'headers-too-large': [431, 'The request headers are too large; the connection is closed after the answer'],
  'limit-exceeded': [429, 'A configured limit was hit; `limit` names the setting and `Retry-After` says when to retry'],
  'internal': [500, 'A bug: the details are in the service log under the request id'],
  'rule-violation': [500, 'Checked mode caught a call that would raise an exception on Windows; the detail names the rule'],
  'thread-died': [500, 'The thread running the callback died'],
  'os-error': [500, 'The operating system refused a call; the details are in the service log'],
  'shutting-down': [503, 'The service is draining and accepts no new work or objects'],
  'overloaded': [503, 'The event loop lags (MAX_EVENT_LOOP_DELAY_MS) or the heap is full (MAX_HEAP_USED_BYTES)'],
  'engine-unavailable': [503, 'The engine cannot run'],
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemSlug = keyof typeof PROBLEM_TYPES;

export const problemType = (slug: ProblemSlug) => `urn:tpmutex:problem:${slug}`;
