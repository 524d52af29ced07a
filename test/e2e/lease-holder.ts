/**
 * A test harness as the lease suite needs one: it holds a mutex through
 * TpmutexClient.hold() (which keeps the lease alive), prints `held <workId>` and then
 * waits forever, until the suite kills it (SIGKILL: no chance to release anything).
 * argv: <baseUrl> <mutex> <leaseMs>
 */
import { TpmutexClient } from '../../src/client/index.js';

const [baseUrl, mutex, leaseMs] = process.argv.slice(2);
const client = new TpmutexClient({ baseUrl: baseUrl! });
await client.hold(mutex!, async (work) => {
  process.stdout.write(`held ${work.id}\n`);
  await new Promise(() => { /* until killed */ });
}, { leaseMs: Number(leaseMs) });
