/**
 * One namespace for the three kinds of named objects, as in the OS: a name open here
 * as one kind cannot be opened as another. The OS refuses that too (Win32:
 * ERROR_INVALID_HANDLE, the engines' `name_conflict`), but the service refuses it
 * first from its own registries, so both engines (and a name that another process
 * holds as no object at all yet) answer alike.
 */
import { ServiceError } from '../service-error.js';

export type ObjectKind = 'mutex' | 'semaphore' | 'event object';

/** How a kind is named to users: in details and summaries, and its collection's path and OpenAPI tag. */
export interface ObjectKindNames {
  readonly kind: ObjectKind;
  readonly plural: string;
  readonly path: string;
  readonly tag: string;
}

export const KIND_NAMES: { readonly [K in ObjectKind]: ObjectKindNames & { readonly kind: K } } = {
  mutex: { kind: 'mutex', plural: 'mutexes', path: '/v1/mutexes', tag: 'mutexes' },
  semaphore: { kind: 'semaphore', plural: 'semaphores', path: '/v1/semaphores', tag: 'semaphores' },
  // `event-objects` because /v1/events is the event stream.
  'event object': { kind: 'event object', plural: 'event objects', path: '/v1/event-objects', tag: 'event-objects' },
};

/** Whether a registry has a name (or an alias, or the kernel name) open. */
export interface KindLookup {
  has(name: string): boolean;
  hasKernelName(kernelName: string): boolean;
}

export class ObjectKinds {
  private readonly kinds = new Map<ObjectKind, KindLookup>();

  register(kind: ObjectKind, lookup: KindLookup): void { this.kinds.set(kind, lookup); }

  /** Throws `name-conflict` when the name is open here as another kind. */
  checkName(name: string, kind: ObjectKind): void {
    for (const [other, lookup] of this.kinds) {
      if (other !== kind && lookup.has(name)) throw conflict(name, kind, other);
    }
  }

  /** Throws `name-conflict` when the kernel name is open here as another kind (another spelling of it). */
  checkKernelName(name: string, kernelName: string, kind: ObjectKind): void {
    for (const [other, lookup] of this.kinds) {
      if (other !== kind && lookup.hasKernelName(kernelName)) throw conflict(name, kind, other);
    }
  }
}

const conflict = (name: string, kind: ObjectKind, other: ObjectKind) =>
  new ServiceError('name-conflict', `${JSON.stringify(name)} is open in this service as a ${other}, so it cannot be used as a ${kind}: one name is one kernel object`);
