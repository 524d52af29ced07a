import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_NAME_LENGTH, parseMutexName } from '../../src/mutex/names.js';

describe('parseMutexName', () => {
  it('normalises a bare name to Local\\', () => {
    assert.deepEqual(parseMutexName('Deploy'), { ok: true, name: 'Local\\Deploy' });
  });

  it('keeps Global\\ and Local\\ names as they are, case-sensitive', () => {
    assert.deepEqual(parseMutexName('Global\\Deploy'), { ok: true, name: 'Global\\Deploy' });
    assert.deepEqual(parseMutexName('Local\\x'), { ok: true, name: 'Local\\x' });
    assert.deepEqual(parseMutexName('Local\\X'), { ok: true, name: 'Local\\X' });
  });

  it('accepts Unicode, spaces and slashes', () => {
    for (const name of ['naïve mutex', 'a/b/c', '😀', 'Global\\日本語']) {
      assert.equal(parseMutexName(name).ok, true, name);
    }
  });

  const rejected: [string, RegExp][] = [
    ['', /empty/],
    ['Global\\', /after the "Global\\" prefix/],
    ['Local\\', /after the "Local\\" prefix/],
    ['a\\b', /backslash/],
    ['Global\\a\\b', /backslash/],
    ['global\\x', /backslash/],
    ['Session\\1\\x', /backslash/],
    ['nul\u0000here', /control/],
    ['tab\there', /control/],
    ['c1\u0085', /control/],
    ['lone\uD800', /unpaired surrogates/],
    ['x'.repeat(MAX_NAME_LENGTH), /at most 260/],
  ];
  for (const [name, reason] of rejected) {
    it(`rejects ${JSON.stringify(name.length > 20 ? `${name.slice(0, 20)}…` : name)}`, () => {
      const check = parseMutexName(name);
      assert.equal(check.ok, false);
      assert.match((check as { reason: string }).reason, reason);
    });
  }

  it('allows exactly 260 characters as passed to the OS', () => {
    assert.equal(parseMutexName(`Global\\${'x'.repeat(MAX_NAME_LENGTH - 7)}`).ok, true);
    assert.equal(parseMutexName(`Global\\${'x'.repeat(MAX_NAME_LENGTH - 6)}`).ok, false);
    assert.equal(parseMutexName('x'.repeat(MAX_NAME_LENGTH - 6)).ok, true);
  });
});
