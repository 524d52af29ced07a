import { EngineError } from './errors.js';
import type { PoolLimits } from './types.js';

/** Accept limits the pool can honour: integers, at least one thread, min ≤ max. */
export function checkPoolLimits(limits: PoolLimits): PoolLimits {
  const { minThreads, maxThreads } = limits;
  if (!Number.isInteger(minThreads) || !Number.isInteger(maxThreads)) {
    throw new EngineError('pool_limits_invalid', `pool limits must be integers (minThreads ${minThreads}, maxThreads ${maxThreads})`);
  }
  if (minThreads < 0 || maxThreads < 1) {
    throw new EngineError('pool_limits_invalid', `need minThreads ≥ 0 and maxThreads ≥ 1 (minThreads ${minThreads}, maxThreads ${maxThreads})`);
  }
  if (minThreads > maxThreads) {
    throw new EngineError('pool_limits_invalid', `minThreads ${minThreads} is above maxThreads ${maxThreads}`);
  }
  return { minThreads, maxThreads };
}
