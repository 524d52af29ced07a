/**
 * Asks a tpmutex service to drain the way an operator's script would on Windows: opens
 * its named drain event and sets it. A Windows program (node.exe, natively or under
 * Wine in the service's WINEPREFIX), so no POSIX signal is involved.
 *
 *   node.exe dist/test/win32/request-shutdown.js <event name>
 *
 * PowerShell equivalent:
 *   [System.Threading.EventWaitHandle]::OpenExisting('Local\tpmutex-1234-shutdown').Set()
 *
 * Exit code 0 when the event was set, 1 (with the reason) otherwise.
 */
import { CloseHandle, EVENT_MODIFY_STATE } from '../../src/engine/win32/kernel32.js';
import { OpenEventW, SetEvent } from './kernel32-for-tests.js';

const name = process.argv[2];
if (name === undefined) {
  console.error('usage: request-shutdown.js <event name>');
  process.exit(1);
}
try {
  const event = OpenEventW(EVENT_MODIFY_STATE, false, name);
  try {
    SetEvent(event);
  } finally {
    CloseHandle(event);
  }
  console.log(`set ${name}`);
} catch (err) {
  console.error(`cannot set ${name}: ${(err as Error).message}`);
  process.exit(1);
}
