/**
 * The set-up the cross-process suites share (cross-process*.test.ts): whether they can
 * run here, names unique to this run, the service under Windows Node, and the contender
 * processes (contender.ts) — started on demand, killed after the suite with every
 * service process it started. Under Wine all are node.exe in one WINEPREFIX (one
 * wineserver, one namespace).
 *
 * With CI=true a harness that cannot run here fails the suite instead of skipping it.
 */
import { after, before } from 'node:test';
import type { WorkView } from '../../src/schemas/work.js';
import { Api } from '../e2e/api.js';
import { SseClient } from '../e2e/sse.js';
import { startServer, type WindowsServerProcess } from '../helpers/server-process.js';
import { Contender } from './windows-processes.js';
import { provision, skipIsFailure, unavailableReason, type WindowsNode } from './wine-env.js';

const unavailable = unavailableReason();
/** For describe(): the reason to skip, or false (also with CI=true, where `before` then fails instead). */
export const skip = unavailable !== undefined && !skipIsFailure() ? unavailable : false;
/** In every object name, so that two runs sharing a WINEPREFIX never meet. */
export const runId = `${process.pid}-${Date.now().toString(36)}`;
export const STEP_TIMEOUT_MS = 60_000;

/** Opens an event stream for one work; resolves once the stream is live. */
export function watch(baseUrl: string, workId: string): Promise<SseClient> {
  return SseClient.open(baseUrl, `/v1/events?work=${encodeURIComponent(workId)}&after=0`);
}

/** Waits for the work's `type` event on its stream; returns the work it carries. */
export async function waitEvent(stream: SseClient, type: string): Promise<WorkView> {
  await stream.waitFor(() => stream.events.some((e) => e.type === type), STEP_TIMEOUT_MS, type);
  return stream.events.find((e) => e.type === type)!['work'] as WorkView;
}

export interface CrossProcess {
  readonly node: WindowsNode;
  /** The service started in `before` (only when it was given an environment). */
  readonly server: WindowsServerProcess;
  readonly api: Api;
  /** A contender process, killed after the suite unless it exited. */
  contender(): Promise<Contender>;
  /** One more service process (e.g. one to kill), stopped after the suite. */
  startServer(env: Record<string, string>): Promise<WindowsServerProcess>;
}

/**
 * Call inside describe(): registers its `before` (provision Windows Node, then start the
 * service with `serverEnv` unless it is null) and its `after`. The fields are set once
 * `before` ran.
 */
export function crossProcess(serverEnv: Record<string, string> | null): CrossProcess {
  let node: WindowsNode | undefined;
  let server: WindowsServerProcess | undefined;
  let api: Api | undefined;
  const contenders: Contender[] = [];
  const servers: WindowsServerProcess[] = [];
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not there: crossProcess()'s before() has not run, or was not asked for one`);
    return value;
  };
  const run: CrossProcess = {
    get node() { return ready(node, 'Windows Node'); },
    get server() { return ready(server, 'the service'); },
    get api() { return ready(api, 'the service'); },
    async contender() {
      const c = await Contender.start(run.node);
      contenders.push(c);
      return c;
    },
    async startServer(env) {
      const started = await startServer(env, { windows: run.node });
      servers.push(started);
      return started;
    },
  };

  before(async () => {
    if (unavailable !== undefined) throw new Error(`the Windows harness cannot run here: ${unavailable} (CI=true: a failure, not a skip)`);
    node = provision(() => undefined);
    if (serverEnv !== null) {
      server = await run.startServer(serverEnv);
      api = new Api(server.baseUrl);
    }
  });

  after(async () => {
    for (const c of contenders) c.kill();
    for (const s of servers) await s.stop();
  });

  return run;
}
