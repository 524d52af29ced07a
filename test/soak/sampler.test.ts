/** What the soak reads from /metrics: every series by name and labels as written. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseExposition } from './sampler.js';

it('parses the Prometheus text format, labelled series by their full name', () => {
  const values = parseExposition([
    '# HELP tpmutex_process_handles Open OS handles',
    '# TYPE tpmutex_process_handles gauge',
    'tpmutex_process_handles 187',
    'tpmutex_nodejs_gc_duration_seconds_count{kind="major"} 4',
    'tpmutex_nodejs_heap_size_used_bytes 4.5e7',
    '',
  ].join('\n'));
  assert.equal(values.get('tpmutex_process_handles'), 187);
  assert.equal(values.get('tpmutex_nodejs_gc_duration_seconds_count{kind="major"}'), 4);
  assert.equal(values.get('tpmutex_nodejs_heap_size_used_bytes'), 45_000_000);
  assert.equal(values.size, 3);
});
