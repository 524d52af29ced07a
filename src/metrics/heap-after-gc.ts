/**
 * The heap as the last major (mark-compact) garbage collection left it: what the
 * process really retains. Heap used read at an arbitrary moment swings by ten
 * megabytes with the young generation, which fills and empties every few seconds
 * under load; after a full collection the floor is what is left, and a floor that
 * climbs under a steady load is a leak. One observer per process, started by the
 * first reader; until the first major collection it reports the heap used now.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

let afterMajorGc: number | undefined;
let observer: PerformanceObserver | undefined;

/**
 * Bytes used outside the young generation right after the last major collection. The
 * observer runs a moment after the collection, when the young generation has already
 * taken new objects: they are left out, since the collection had just emptied it.
 */
function retainedNow(): number {
  const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_used_size ?? 0;
  return getHeapStatistics().used_heap_size - young;
}

export function heapUsedAfterMajorGc(): number {
  if (observer === undefined) {
    observer = new PerformanceObserver((list) => {
      // A gc entry's detail.kind says which collection it was (@types/node 20 does not declare it on PerformanceEntry).
      const major = list.getEntries().some((entry) => (entry as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
      if (major) afterMajorGc = retainedNow();
    });
    observer.observe({ entryTypes: ['gc'] });
  }
  return afterMajorGc ?? getHeapStatistics().used_heap_size;
}
