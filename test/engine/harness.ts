/**
 * Drives one engine in a test: collects every phase the engine delivers, checks the
 * per-work contract as phases arrive (order, one terminal, never delivered from inside
 * a method call), and lets a test wait for a condition on the phases instead of
 * sleeping. The only timers are deadlines that turn a hang into a clear failure.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { isEngineError, type EngineErrorCode } from '../../src/engine/errors.js';
import {
  isTerminalPhase, type EventInit, type Engine, type Phase, type PhaseType, type PoolLimits, type ReturnAction, type SemaphoreInit,
  type TerminalPhase, type WorkSpec,
} from '../../src/engine/types.js';
import type { EngineFactory } from './factories.js';

export type PhaseOf<T extends PhaseType> = Extract<Phase, { readonly type: T }>;

/** Long enough for a loaded 2-core machine; a wait only takes this long when something is broken. */
export const WAIT_TIMEOUT_MS = 30_000;

/** A hold that only a signal or cancel ends within any test's lifetime. */
export const HOLD_UNTIL_SIGNALED_MS = 600_000;

/** What a work acquires: `mutex`, `semaphore` (one unit), or neither (acquire none). */
export interface WorkOptions {
  readonly mutex?: string;
  readonly semaphore?: string;
  /** An open event the pool sets when the callback returns. */
  readonly setEventOnReturn?: string;
  readonly acquireTimeoutMs?: number;
  readonly spinMs?: number;
  readonly holdMs?: number;
  readonly mayRunLong?: boolean;
}

type WorkState = 'none' | 'started' | 'acquired' | 'returned';

/** Which phase may follow which, for a work that acquires a mutex or semaphore (undefined: nothing delivered yet). */
const NEXT_PHASES: Readonly<Record<WorkState, readonly PhaseType[]>> = {
  none: ['started', 'cancelled', 'failed'],
  started: ['acquired', 'timed_out', 'cancelled', 'failed'],
  acquired: ['returned', 'failed'],
  returned: ['released', 'failed'],
};

/** A work that acquires nothing: started → returned → released. */
const NEXT_PHASES_NONE: Readonly<Record<WorkState, readonly PhaseType[]>> = {
  none: ['started', 'cancelled', 'failed'],
  started: ['returned', 'cancelled', 'failed'],
  acquired: [],
  returned: ['released', 'failed'],
};

/** An abandon work: started → acquired → abandoned. */
const NEXT_PHASES_ABANDON: Readonly<Record<WorkState, readonly PhaseType[]>> = {
  none: ['started', 'cancelled', 'failed'],
  started: ['acquired', 'timed_out', 'cancelled', 'failed'],
  acquired: ['abandoned', 'failed'],
  returned: [],
};

interface Waiter {
  readonly ready: () => boolean;
  readonly resolve: () => void;
}

let mutexCounter = 0;

export function msBetween(from: bigint, to: bigint): number {
  return Number(to - from) / 1e6;
}

export function assertEngineError(fn: () => unknown, code: EngineErrorCode): void {
  assert.throws(fn, (error: unknown) => isEngineError(error) && error.code === code, `expected EngineError('${code}')`);
}

export class EngineHarness {
  /** Every work submitted through this harness. */
  readonly specs = new Map<string, WorkSpec>();
  /** Broken contract rules seen so far; a test ends with assertClean(). */
  readonly violations: string[] = [];
  /** The works started with abandon() (their spec is recorded as a mutex work). */
  readonly abandonIds = new Set<string>();
  private readonly phases = new Map<string, Phase[]>();
  /** Position of every phase in the order the engine delivered them, across all works. */
  private readonly deliveryOrder = new Map<Phase, number>();
  private readonly waiters = new Set<Waiter>();
  private readonly taps: ((phase: Phase) => void)[] = [];
  private insideEngineCall = false;
  private nextWork = 0;
  private closing: Promise<void> | undefined;

  private constructor(readonly engine: Engine) {
    engine.onPhase((phase) => this.record(phase));
  }

  /** A started engine from `factory`, closed when the test ends. */
  static async open(t: TestContext, factory: EngineFactory, pool: PoolLimits): Promise<EngineHarness> {
    return EngineHarness.of(t, await factory.create(pool));
  }

  /** Drive a started engine, closed when the test ends. */
  static of(t: TestContext, engine: Engine): EngineHarness {
    const harness = new EngineHarness(engine);
    t.after(() => harness.close());
    return harness;
  }

  /** A bare mutex name (no prefix) no other test (or earlier run) uses. */
  freshName(tag = 'm'): string {
    return `tpmutex-test-${process.pid}-${++mutexCounter}-${tag}`;
  }

  /** Open a mutex under a name no other test (or earlier run) uses. */
  openMutex(tag = 'm'): string {
    const name = `Local\\${this.freshName(tag)}`;
    const opened = this.call(() => this.engine.openMutex(name));
    assert.equal(opened.existed, false, `${name} is new`);
    return name;
  }

  /** Open a semaphore under a fresh name. */
  openSemaphore(tag: string, init: SemaphoreInit): string {
    const name = `Local\\${this.freshName(tag)}`;
    const opened = this.call(() => this.engine.openSemaphore(name, init));
    assert.equal(opened.existed, false, `${name} is new`);
    assert.equal(opened.maximumCount, init.maximumCount);
    return name;
  }

  /** Open an event under a fresh name. */
  openEvent(tag: string, init: EventInit): string {
    const name = `Local\\${this.freshName(tag)}`;
    const opened = this.call(() => this.engine.openEvent(name, init));
    assert.equal(opened.existed, false, `${name} is new`);
    return name;
  }

  submit(options: WorkOptions): string {
    const spec: WorkSpec = {
      workId: `w${++this.nextWork}`,
      acquire: options.mutex !== undefined ? { kind: 'mutex', name: options.mutex }
        : options.semaphore !== undefined ? { kind: 'semaphore', name: options.semaphore } : { kind: 'none' },
      setEventOnReturn: options.setEventOnReturn ?? null,
      acquireTimeoutMs: options.acquireTimeoutMs ?? WAIT_TIMEOUT_MS,
      spinMs: options.spinMs ?? 0,
      holdMs: options.holdMs ?? 0,
      mayRunLong: options.mayRunLong ?? false,
    };
    this.specs.set(spec.workId, spec);
    this.call(() => this.engine.submit(spec));
    return spec.workId;
  }

  /** Abandon the mutex on cue (Engine.abandon). */
  abandon(mutex: string, acquireTimeoutMs = WAIT_TIMEOUT_MS): string {
    const workId = `a${++this.nextWork}`;
    this.specs.set(workId, { workId, acquire: { kind: 'mutex', name: mutex }, setEventOnReturn: null, acquireTimeoutMs, spinMs: 0, holdMs: 0, mayRunLong: false });
    this.abandonIds.add(workId);
    this.call(() => this.engine.abandon({ workId, mutex, acquireTimeoutMs }));
    return workId;
  }

  /**
   * The return actions a work that holds `acquire` and sets an event reports, in the
   * order the engine's platform performs them (docs/design.md §1.3): Windows and the
   * emulated engine mutex → event → semaphore, Wine mutex → semaphore → event. The engine
   * says which in info.details.returnActionOrder ('windows' | 'wine'); an engine that only
   * says whether it runs under Wine (details.wine, the win32 engine) is read from that.
   */
  expectedActions(acquire: 'mutex' | 'semaphore' | 'none', setsEvent: boolean): ReturnAction[] {
    const { details } = this.engine.info;
    const order = details['returnActionOrder'] ?? (typeof details['wine'] === 'boolean' ? (details['wine'] ? 'wine' : 'windows') : undefined);
    assert.ok(order === 'windows' || order === 'wine', `info.details.returnActionOrder is 'windows' or 'wine' (got ${String(order)})`);
    const all: ReturnAction[] = order === 'windows' ? ['release_mutex', 'set_event', 'release_semaphore'] : ['release_mutex', 'release_semaphore', 'set_event'];
    return all.filter((action) => (action === 'set_event' ? setsEvent : action === `release_${acquire}`));
  }

  signal(workId: string): void {
    this.call(() => this.engine.signal(workId));
  }

  cancel(workId: string): void {
    this.call(() => this.engine.cancel(workId));
  }

  /** Also call `fn` with every phase, right as it is delivered (to look at live state at that moment). */
  tap(fn: (phase: Phase) => void): void {
    this.taps.push(fn);
  }

  /** Run an engine method; a phase delivered while it runs breaks the threading contract. */
  call<T>(fn: () => T): T {
    this.insideEngineCall = true;
    try {
      return fn();
    } finally {
      this.insideEngineCall = false;
    }
  }

  phasesOf(workId: string): readonly Phase[] {
    return this.phases.get(workId) ?? [];
  }

  typesOf(workId: string): PhaseType[] {
    return this.phasesOf(workId).map((phase) => phase.type);
  }

  phase<T extends PhaseType>(workId: string, type: T): PhaseOf<T> | undefined {
    return this.phasesOf(workId).find((phase): phase is PhaseOf<T> => phase.type === type);
  }

  /** The phase, which the test expects to be there. */
  expectPhase<T extends PhaseType>(workId: string, type: T): PhaseOf<T> {
    const phase = this.phase(workId, type);
    assert.ok(phase, `${workId} has a ${type} phase (it has ${this.typesOf(workId).join(', ') || 'none'})`);
    return phase;
  }

  /** Where the phase came in the engine's delivery order (all works together). */
  deliveredAt(phase: Phase): number {
    const position = this.deliveryOrder.get(phase);
    assert.ok(position !== undefined, `${phase.workId} ${phase.type} was delivered`);
    return position;
  }

  terminalOf(workId: string): TerminalPhase | undefined {
    return this.phasesOf(workId).find(isTerminalPhase);
  }

  /** Resolves as soon as `ready()` holds after a phase arrives; fails after timeoutMs. */
  async waitFor(description: string, ready: () => boolean, timeoutMs = WAIT_TIMEOUT_MS): Promise<void> {
    if (ready()) return;
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        waiter = { ready, resolve };
        this.waiters.add(waiter);
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${description}\n${this.describe()}`)), timeoutMs);
      });
    } finally {
      clearTimeout(timer);
      if (waiter !== undefined) this.waiters.delete(waiter);
    }
  }

  async waitPhase<T extends PhaseType>(workId: string, type: T, timeoutMs = WAIT_TIMEOUT_MS): Promise<PhaseOf<T>> {
    await this.waitFor(`${workId} ${type}`, () => this.phase(workId, type) !== undefined, timeoutMs);
    return this.expectPhase(workId, type);
  }

  async waitTerminal(workIds: readonly string[], timeoutMs = WAIT_TIMEOUT_MS): Promise<TerminalPhase[]> {
    const pending = (): string[] => workIds.filter((id) => this.terminalOf(id) === undefined);
    await this.waitFor(`terminal phases of ${workIds.length} works`, () => pending().length === 0, timeoutMs);
    return workIds.map((id) => {
      const terminal = this.terminalOf(id);
      assert.ok(terminal);
      return terminal;
    });
  }

  /** No contract rule was broken, and every submitted work has its terminal phase. */
  assertClean(options: { allTerminal?: boolean } = {}): void {
    assert.deepEqual(this.violations, [], 'phase contract violations');
    if (options.allTerminal ?? true) {
      const open = [...this.specs.keys()].filter((id) => this.terminalOf(id) === undefined);
      assert.deepEqual(open, [], 'works without a terminal phase');
    }
  }

  close(timeoutMs = 10_000): Promise<void> {
    this.closing ??= this.engine.close({ timeoutMs });
    return this.closing;
  }

  private record(phase: Phase): void {
    if (this.insideEngineCall) this.violations.push(`${phase.workId} ${phase.type} delivered from inside an engine method`);
    if (!this.specs.has(phase.workId)) this.violations.push(`${phase.type} for unknown work ${phase.workId}`);
    const list = this.phases.get(phase.workId) ?? [];
    this.checkTransition(list, phase);
    list.push(phase);
    this.phases.set(phase.workId, list);
    this.deliveryOrder.set(phase, this.deliveryOrder.size);
    for (const tap of this.taps) tap(phase);
    for (const waiter of [...this.waiters]) {
      if (waiter.ready()) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  private checkTransition(before: readonly Phase[], phase: Phase): void {
    const last = before.at(-1);
    const where = `${phase.workId}: ${[...before.map((p) => p.type), phase.type].join(' → ')}`;
    if (last !== undefined && isTerminalPhase(last)) {
      this.violations.push(`phase after the terminal phase (${where})`);
      return;
    }
    const state = last === undefined ? 'none' : last.type as WorkState;
    const table = this.abandonIds.has(phase.workId) ? NEXT_PHASES_ABANDON
      : this.specs.get(phase.workId)?.acquire.kind === 'none' ? NEXT_PHASES_NONE : NEXT_PHASES;
    if (!table[state].includes(phase.type)) this.violations.push(`phase out of order (${where})`);
    if (last !== undefined && phase.atNs < last.atNs) this.violations.push(`timestamp goes back (${where})`);
    if (phase.type === 'acquired') {
      const started = before.find((p): p is PhaseOf<'started'> => p.type === 'started');
      if (started !== undefined && started.threadId !== phase.threadId) {
        this.violations.push(`acquired on thread ${phase.threadId}, started on ${started.threadId} (${phase.workId})`);
      }
    }
  }

  /** What a timed-out wait reports: the works still without a terminal phase first. */
  private describe(): string {
    const line = (id: string): string => `  ${id} on ${nameOf(this.specs.get(id))}: ${this.typesOf(id).join(' → ') || '(no phase)'}`;
    const ids = [...this.specs.keys()];
    const open = ids.filter((id) => this.terminalOf(id) === undefined);
    return [
      `${open.length} of ${ids.length} works without a terminal phase${open.length > 20 ? ' (first 20)' : ''}:`,
      ...open.slice(0, 20).map(line),
      'last works:',
      ...ids.slice(-5).map(line),
      `violations: ${this.violations.join('; ') || 'none'}`,
    ].join('\n');
  }
}

/** The name of the object a work acquires, for messages. */
export function nameOf(spec: WorkSpec | undefined): string {
  return spec === undefined || spec.acquire.kind === 'none' ? '?' : spec.acquire.name;
}
