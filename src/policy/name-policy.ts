/**
 * Which mutex names this service may open (MUTEX_ALLOW, MUTEX_GLOBAL). Checked where a
 * name first becomes a handle (MutexRegistry.open), so PUT /v1/mutexes/{name} and a
 * work naming a new mutex are refused alike, with 403, before the engine sees the name.
 */
import { ServiceError } from '../service-error.js';
import { compileNamePatterns, type NameMatcher } from './glob.js';

export interface NamePolicyConfig { allow: readonly string[]; global: boolean }

export class NamePolicy {
  private readonly matches: NameMatcher;

  constructor(private readonly config: NamePolicyConfig) {
    this.matches = compileNamePatterns(config.allow);
  }

  /** The reason a normalised name is refused, or null when it is allowed. */
  refusal(name: string): ServiceError | null {
    if (!this.config.global && name.startsWith('Global\\')) {
      return new ServiceError('global-names-disabled',
        `mutex ${JSON.stringify(name)} is in the Global\\ namespace, which this service does not open (MUTEX_GLOBAL=false)`);
    }
    if (!this.matches(name)) {
      return new ServiceError('name-not-allowed',
        `mutex ${JSON.stringify(name)} matches none of the allowed patterns (MUTEX_ALLOW)`);
    }
    return null;
  }

  /** Throws the refusal (a 403 over HTTP) for a refused name. */
  check(name: string): void {
    const problem = this.refusal(name);
    if (problem) throw problem;
  }
}
