#!/usr/bin/env node
/**
 * The process entry point (the package's bin, `npm start`, the container): sizes
 * libuv's thread pool, then runs server.js.
 *
 * The service blocks libuv pool threads for good: the win32 engine's completion-port
 * read and, on Windows, the drain-request wait each hold one for the life of the
 * process, and the default pool has 4 (file system, DNS and crypto share them). libuv
 * reads UV_THREADPOOL_SIZE once, when the pool is first used — and the ES module loader
 * reads files on that pool before the first line of any ES module runs. So this file is
 * CommonJS, and it only adds the reserved threads when the operator set no size.
 */
const RESERVED_THREADS = 2;
const LIBUV_DEFAULT_THREADS = 4;
if (process.env['UV_THREADPOOL_SIZE'] === undefined) process.env['UV_THREADPOOL_SIZE'] = String(LIBUV_DEFAULT_THREADS + RESERVED_THREADS);
void import('./server.js');
