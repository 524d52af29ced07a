/**
 * The engines the conformance suite runs against, like parcel-bundler/watcher's
 * `forEach(backend)`: the emulated engine everywhere, the win32 engine on Windows.
 */
import { selectEngine } from '../../src/engine/select.js';
import type { Engine, EngineKind, PoolLimits } from '../../src/engine/types.js';

export interface EngineFactory {
  readonly kind: EngineKind;
  /** A started engine with these pool limits. The caller closes it. */
  create(pool: PoolLimits): Promise<Engine>;
}

function factoryOf(kind: EngineKind): EngineFactory {
  return {
    kind,
    async create(pool) {
      // Checked mode in every test run: a broken Windows rule fails the work here
      // instead of killing a production process on Windows.
      const engine = await selectEngine(kind, { pool, checked: true });
      await engine.start();
      return engine;
    },
  };
}

export const engineFactories: readonly EngineFactory[] = process.platform === 'win32'
  ? [factoryOf('emulated'), factoryOf('win32')]
  : [factoryOf('emulated')];
