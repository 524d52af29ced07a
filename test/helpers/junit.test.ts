import assert from 'node:assert/strict';
import { it } from 'node:test';
import { countBlock } from './junit.js';

// As node 22's junit reporter writes it (trimmed).
const REPORT = `<?xml version="1.0" encoding="utf-8"?>
<testsuites>
	<testsuite name="engine conformance: emulated" time="0.1" disabled="0" errors="0" tests="3" failures="0" skipped="0" hostname="h">
		<testcase name="a" time="0.1" classname="test"/>
		<testsuite name="inner" time="0.1" disabled="0" errors="0" tests="1" failures="0" skipped="0" hostname="h">
			<testcase name="b" time="0.1" classname="test"/>
		</testsuite>
	</testsuite>
	<testsuite name="engine conformance: win32" time="0.1" disabled="0" errors="0" tests="2" failures="1" skipped="0" hostname="h">
		<testcase name="c" time="0.1" classname="test">
			<failure type="testCodeFailure" message="boom">boom</failure>
		</testcase>
		<testcase name="d" time="0.1" classname="test"/>
	</testsuite>
	<testcase name="win32 engine specifics" time="0.0" classname="test">
		<skipped type="skipped" message="Windows Node only"/>
	</testcase>
</testsuites>`;

it('counts the test cases of a block, nested blocks included, and its failures and skips', () => {
  assert.deepEqual(countBlock(REPORT, 'engine conformance: emulated'), { tests: 2, failed: 0, skipped: 0 });
  assert.deepEqual(countBlock(REPORT, 'engine conformance: win32'), { tests: 2, failed: 1, skipped: 0 });
  assert.deepEqual(countBlock(REPORT, 'win32 engine specifics'), { tests: 1, failed: 0, skipped: 1 });
  assert.equal(countBlock(REPORT, 'native drain request'), undefined);
  assert.equal(countBlock('', 'engine conformance: win32'), undefined);
});
