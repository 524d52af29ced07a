/**
 * `import { TpmutexClient } from 'tpmutex/client'`: the typed client of the tpmutex
 * HTTP API (README "Typed client").
 */
export { TpmutexClient } from './client.js';
export type { AcquireOptions, HoldOptions, RequestOptions, SubmitOptions, TpmutexClientOptions, WaitOptions } from './client.js';
export { TpmutexConnectionError, TpmutexProblemError, WorkNotHeldError } from './errors.js';
export type { EventsOptions } from './event-stream.js';
export type * from './types.js';
