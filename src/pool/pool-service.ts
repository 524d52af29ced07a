import type { Engine } from '../engine/types.js';
import type { PoolView } from '../schemas/pool.js';
import { invalid } from '../service-error.js';

/** Pool figures and live limit changes, checked before they reach the engine. */
export class PoolService {
  constructor(private readonly engine: Engine, private readonly threadsLimit: number) {}

  view(): PoolView {
    return { engine: this.engine.info.kind, ...this.engine.poolStats() };
  }

  update(patch: { minThreads?: number | undefined; maxThreads?: number | undefined }): PoolView {
    const current = this.engine.poolStats();
    const minThreads = patch.minThreads ?? current.minThreads;
    const maxThreads = patch.maxThreads ?? current.maxThreads;
    const issues = [];
    if (maxThreads > this.threadsLimit) issues.push({ field: 'body/maxThreads', message: `must be <= ${this.threadsLimit} (POOL_THREADS_LIMIT)` });
    if (minThreads > this.threadsLimit) issues.push({ field: 'body/minThreads', message: `must be <= ${this.threadsLimit} (POOL_THREADS_LIMIT)` });
    if (minThreads > maxThreads) issues.push({ field: 'body/minThreads', message: `must not exceed maxThreads (${maxThreads})` });
    if (issues.length > 0) throw invalid(issues);
    this.engine.setPoolLimits({ minThreads, maxThreads });
    return this.view();
  }
}
