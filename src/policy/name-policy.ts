/**
 * Which kernel-object names this service may open (OBJECT_ALLOW, OBJECT_GLOBAL; the
 * older MUTEX_ALLOW and MUTEX_GLOBAL are aliases, src/config.ts). One policy for every
 * kind: mutexes, semaphores and event objects share one namespace in the OS. Checked
 * where a name first becomes a handle (the registries' open), so PUT and a work naming
 * a new mutex are refused alike, with 403, before the engine sees the name.
 */
import { ServiceError } from '../service-error.js';
import { compileNamePatterns, type NameMatcher } from './glob.js';

export interface NamePolicyConfig {
  allow: readonly string[];
  global: boolean;
  /** The variables the values came from, for the refusal's message. */
  allowVar?: string;
  globalVar?: string;
}

/** What a refusal calls the object. */
export type ObjectNoun = 'mutex' | 'semaphore' | 'event object';

export class NamePolicy {
  private readonly matches: NameMatcher;

  constructor(private readonly config: NamePolicyConfig) {
    this.matches = compileNamePatterns(config.allow);
  }

  /** The reason a normalised name is refused, or null when it is allowed. */
  refusal(name: string, noun: ObjectNoun = 'mutex'): ServiceError | null {
    if (!this.config.global && name.startsWith('Global\\')) {
      return new ServiceError('global-names-disabled',
        `${noun} ${JSON.stringify(name)} is in the Global\\ namespace, which this service does not open (${this.config.globalVar ?? 'OBJECT_GLOBAL'}=false)`);
    }
    if (!this.matches(name)) {
      return new ServiceError('name-not-allowed',
        `${noun} ${JSON.stringify(name)} matches none of the allowed patterns (${this.config.allowVar ?? 'OBJECT_ALLOW'})`);
    }
    return null;
  }

  /** Throws the refusal (a 403 over HTTP) for a refused name. */
  check(name: string, noun: ObjectNoun = 'mutex'): void {
    const problem = this.refusal(name, noun);
    if (problem) throw problem;
  }
}
