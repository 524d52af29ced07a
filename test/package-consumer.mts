// A harness author's script against the installed package. test/package.test.ts copies it
// into an empty project that installed `npm pack`'s tarball, type-checks it there under
// `tsc --strict` and runs it against a live service (the base URL is the first argument).
// (.mts: this repository's tsconfig does not compile it; only that project does.)
import { TpmutexClient, TpmutexProblemError, WorkNotHeldError, type EventFrame, type Work } from 'tpmutex/client';

const client = new TpmutexClient({ baseUrl: process.argv[2]! });
const name = 'Local\\package-consumer';

const fencingToken: number = await client.hold(name, async (work: Work) => {
  const mutex = await client.getMutex(name);
  if (mutex.holder?.workId !== work.id) throw new Error('the mutex is not held by the work');
  return work.fencingToken ?? -1;
}, { acquireTimeoutMs: 10_000 });

try {
  await client.getWork('no-such-work');
  throw new Error('expected a problem');
} catch (err) {
  if (!(err instanceof TpmutexProblemError) || !err.is('work-not-found') || err.status !== 404) throw err;
}

let first: EventFrame | undefined;
for await (const frame of client.events({ after: 0, types: ['mutex.opened'] })) {
  first = frame;
  break;
}
if (first?.type !== 'mutex.opened') throw new Error('no mutex.opened event');
if (!(new WorkNotHeldError({ ...(await client.listWork({ mutex: name })).items[0]!, state: 'timed_out' }).message.includes('timed_out'))) throw new Error('WorkNotHeldError');

console.log(JSON.stringify({ fencingToken }));
