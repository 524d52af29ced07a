/**
 * An engine whose phases the test writes by hand: for unit tests of the service's own
 * logic (ordering rules, counters, eviction), where a real engine's timing would make
 * the interesting interleavings hard to force.
 */
import { unsupported } from '../../src/engine/unsupported.js';
import type { AbandonSpec, EventInit, EventOpened, EventProbe, SemaphoreInit, SemaphoreOpened, SemaphoreProbe } from '../../src/engine/types.js';
import type { EngineError } from '../../src/engine/errors.js';
import { sessionKernelName } from '../../src/engine/mutex-name.js';
import type { Engine, EngineCloseOptions, MutexOpened, MutexProbe, Ns, Phase, PhaseListener, PoolLimits, PoolStats, WorkSpec } from '../../src/engine/types.js';

/** A phase without its timestamp (distributes over the union). */
export type UnstampedPhase = Phase extends infer P ? P extends Phase ? Omit<P, 'atNs'> & { atNs?: Ns } : never : never;

export class ScriptedEngine implements Engine {
  readonly info = { kind: 'emulated' as const, nameScope: 'process' as const, clock: 'scripted', details: {} };
  readonly submitted: WorkSpec[] = [];
  readonly signals: string[] = [];
  readonly cancels: string[] = [];
  readonly open = new Set<string>();
  probe: MutexProbe = { state: 'free', recursion: 0 };
  /** What fault() reports. */
  broken: EngineError | undefined;
  /** The session whose kernel names openMutex reports (0: `Local\x` and `Global\x` are one object). */
  session = 1;
  private listener: PhaseListener = () => {};
  private clock = 1_000n;
  private limits: PoolLimits = { minThreads: 1, maxThreads: 4 };

  async start(): Promise<void> {}
  nowNs(): Ns { return (this.clock += 1_000n); }
  onPhase(listener: PhaseListener): void { this.listener = listener; }
  fault(): EngineError | undefined { return this.broken; }
  openMutex(name: string): MutexOpened {
    const kernelName = sessionKernelName(name, this.session);
    const existed = [...this.open].some((open) => sessionKernelName(open, this.session) === kernelName);
    this.open.add(name);
    return { existed, kernelName };
  }
  closeMutex(name: string): void { this.open.delete(name); }
  probeMutex(): MutexProbe { return this.probe; }
  submit(spec: WorkSpec): void { this.submitted.push(spec); }
  openSemaphore(_name: string, _init: SemaphoreInit): SemaphoreOpened { return unsupported('openSemaphore'); }
  closeSemaphore(_name: string): void { unsupported('closeSemaphore'); }
  probeSemaphore(_name: string): SemaphoreProbe { return unsupported('probeSemaphore'); }
  openEvent(_name: string, _init: EventInit): EventOpened { return unsupported('openEvent'); }
  closeEvent(_name: string): void { unsupported('closeEvent'); }
  probeEvent(_name: string): EventProbe { return unsupported('probeEvent'); }
  setEvent(_name: string): void { unsupported('setEvent'); }
  resetEvent(_name: string): void { unsupported('resetEvent'); }
  abandon(_spec: AbandonSpec): void { unsupported('abandon'); }
  signal(workId: string): void { this.signals.push(workId); }
  cancel(workId: string): void { this.cancels.push(workId); }
  poolStats(): PoolStats { return { ...this.limits, threads: 1, active: 0, queued: 0, submitted: this.submitted.length, completed: 0 }; }
  setPoolLimits(limits: PoolLimits): void { this.limits = limits; }
  async close(_options?: EngineCloseOptions): Promise<void> {}

  /** Delivers a phase as the engine would, stamped now unless given. */
  emit(phase: UnstampedPhase): void {
    this.listener({ ...phase, atNs: phase.atNs ?? this.nowNs() } as Phase);
  }
}
