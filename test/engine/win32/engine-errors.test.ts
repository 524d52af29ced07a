/**
 * How the win32 engine names a failed CreateMutexExW. Pure mapping, so it runs on any
 * platform; the one OS question (does the mutex exist?) is answered by the test. The
 * privilege case cannot be produced under Wine (its user has every privilege), so this
 * is where it is checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EngineError } from '../../../src/engine/errors.js';
import { mutexOpenError, type Existence } from '../../../src/engine/win32/engine-errors.js';
import { Win32Error } from '../../../src/engine/win32/win32-error.js';
import { fromEngineError } from '../../../src/http/problem.js';

const denied = new Win32Error(5, 'CreateMutexExW');

function mapped(name: string, existence: Existence, err: unknown = denied): { error: EngineError; asked: number } {
  let asked = 0;
  const error = mutexOpenError(err, name, () => { asked++; return existence; });
  return { error, asked };
}

describe('win32 engine: CreateMutexExW failures', () => {
  it('ERROR_ACCESS_DENIED on a mutex that exists: access_denied, a 403 naming the mutex', () => {
    const { error, asked } = mapped('Local\\theirs', 'exists');
    assert.equal(error.code, 'access_denied');
    assert.equal(error.osCode, 5);
    assert.equal(asked, 0, 'a Local\\ name cannot need the privilege: no second look');
    const problem = fromEngineError(error);
    assert.equal(problem.status, 403);
    assert.equal(problem.slug, 'access-denied');
    assert.match(problem.detail, /Local\\theirs/);
    assert.match(problem.detail, /SYNCHRONIZE \| MUTEX_MODIFY_STATE/);
  });

  it('ERROR_ACCESS_DENIED creating a Global\\ mutex that does not exist: privilege_required, a 403 that says which', () => {
    const { error, asked } = mapped('Global\\Deploy', 'missing');
    assert.equal(asked, 1);
    assert.equal(error.code, 'privilege_required');
    const problem = fromEngineError(error);
    assert.equal(problem.status, 403);
    assert.equal(problem.slug, 'privilege-required');
    assert.match(problem.detail, /Global\\Deploy/);
    assert.match(problem.detail, /SeCreateGlobalPrivilege/);
  });

  it('a Global\\ mutex that exists (or cannot be told) and refuses us is access_denied', () => {
    assert.equal(mapped('Global\\Deploy', 'exists').error.code, 'access_denied');
    assert.equal(mapped('Global\\Deploy', 'unknown').error.code, 'access_denied');
  });

  it('keeps the other mappings: another object\'s name, a name the OS rejects, anything else', () => {
    assert.equal(mapped('Local\\e', 'exists', new Win32Error(6, 'CreateMutexExW')).error.code, 'name_conflict');
    assert.equal(mapped('Local\\e', 'exists', new Win32Error(123, 'CreateMutexExW')).error.code, 'name_invalid');
    const other = mapped('Local\\e', 'exists', new Win32Error(8, 'CreateMutexExW')).error;
    assert.equal(other.code, 'os_error');
    assert.equal(fromEngineError(other).status, 500);
  });
});
