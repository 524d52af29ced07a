/**
 * The handle counter behind tpmutex_process_handles. On Linux it counts file
 * descriptors, so files opened here move it one for one. (Its Windows half runs in the
 * service under Wine: test/e2e/handles.test.ts reads the gauge there.)
 */
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { describe, it } from 'node:test';
import { processHandleCounter } from '../../src/metrics/process-handles.js';

describe('process handle counter', () => {
  it('counts the descriptors this process opens and closes', { skip: process.platform !== 'linux' ? 'counts file descriptors on Linux only' : false }, () => {
    const count = processHandleCounter()!;
    const before = count();
    assert.ok(before >= 3, `stdin, stdout and stderr at least: ${before}`);
    const fds = Array.from({ length: 25 }, () => openSync('/dev/null', 'r'));
    assert.equal(count(), before + 25);
    for (const fd of fds) closeSync(fd);
    assert.equal(count(), before);
  });

  it('has no counter where there is no cheap count', () => {
    assert.equal(processHandleCounter('darwin'), undefined);
  });
});
