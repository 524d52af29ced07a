/**
 * An engine whose phases the test writes by hand: for unit tests of the service's own
 * logic (ordering rules, counters, eviction), where a real engine's timing would make
 * the interesting interleavings hard to force.
 */
import { EngineError as EngineErrorClass } from '../../src/engine/errors.js';
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
  readonly abandons: AbandonSpec[] = [];
  /** Open semaphores by name: a simple count the test moves with `semaphoreCount`. */
  readonly semaphores = new Map<string, { count: number; maximumCount: number }>();
  readonly events = new Map<string, EventProbe>();
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
    this.refuseOtherKind(name, 'mutex');
    const kernelName = sessionKernelName(name, this.session);
    const existed = [...this.open].some((open) => sessionKernelName(open, this.session) === kernelName);
    this.open.add(name);
    return { existed, kernelName };
  }
  closeMutex(name: string): void { this.open.delete(name); }
  probeMutex(): MutexProbe { return this.probe; }
  submit(spec: WorkSpec): void { this.submitted.push(spec); }
  openSemaphore(name: string, init: SemaphoreInit): SemaphoreOpened {
    this.refuseOtherKind(name, 'semaphore');
    const existed = this.semaphores.get(name);
    if (!existed) this.semaphores.set(name, { count: init.initialCount, maximumCount: init.maximumCount });
    return { existed: existed !== undefined, kernelName: sessionKernelName(name, this.session), maximumCount: (existed ?? init).maximumCount };
  }
  closeSemaphore(name: string): void { this.semaphores.delete(name); }
  probeSemaphore(name: string): SemaphoreProbe {
    const s = this.semaphores.get(name);
    if (!s) throw new EngineErrorClass('object_not_open', `semaphore ${name} is not open`);
    return { ...s };
  }
  openEvent(name: string, init: EventInit): EventOpened {
    this.refuseOtherKind(name, 'event');
    const existed = this.events.has(name);
    if (!existed) this.events.set(name, { signaled: init.initialState, manualReset: init.manualReset });
    return { existed, kernelName: sessionKernelName(name, this.session) };
  }
  closeEvent(name: string): void { this.events.delete(name); }
  probeEvent(name: string): EventProbe {
    const e = this.events.get(name);
    if (!e) throw new EngineErrorClass('object_not_open', `event ${name} is not open`);
    return { ...e };
  }
  setEvent(name: string): void { this.events.set(name, { ...this.probeEvent(name), signaled: true }); }
  resetEvent(name: string): void { this.events.set(name, { ...this.probeEvent(name), signaled: false }); }
  abandon(spec: AbandonSpec): void { this.abandons.push(spec); }
  signal(workId: string): void { this.signals.push(workId); }
  cancel(workId: string): void { this.cancels.push(workId); }
  poolStats(): PoolStats { return { ...this.limits, threads: 1, active: 0, queued: 0, submitted: this.submitted.length, completed: 0 }; }
  setPoolLimits(limits: PoolLimits): void { this.limits = limits; }
  async close(_options?: EngineCloseOptions): Promise<void> {}

  /** One namespace across kinds, as the OS has (and the emulated engine keeps). */
  private refuseOtherKind(name: string, kind: 'mutex' | 'semaphore' | 'event'): void {
    const taken = (kind !== 'mutex' && this.open.has(name)) || (kind !== 'semaphore' && this.semaphores.has(name)) || (kind !== 'event' && this.events.has(name));
    if (taken) throw new EngineErrorClass('name_conflict', `${name} is another kind of object`);
  }

  /** Delivers a phase as the engine would, stamped now unless given. */
  emit(phase: UnstampedPhase): void {
    this.listener({ ...phase, atNs: phase.atNs ?? this.nowNs() } as Phase);
  }
}
