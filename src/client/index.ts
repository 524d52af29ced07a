/**
 * `import { TpmutexClient } from 'tpmutex/client'`: the typed client of the tpmutex
 * HTTP API (README "Typed client").
 */
export { DEFAULT_HOLD_LEASE_MS, TpmutexClient } from './client.js';
export type { AcquireOptions, HoldOptions, KeepaliveOptions, RequestOptions, StatusOptions, SubmitOptions, TpmutexClientOptions, WaitOptions } from './client.js';
export { LeaseLostError, TpmutexConnectionError, TpmutexProblemError, WorkNotHeldError } from './errors.js';
export type { EventsOptions } from './event-stream.js';
export type * from './types.js';
