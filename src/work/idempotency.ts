/**
 * Idempotency-Key semantics for POST /v1/work: the same key with the same (normalised)
 * request returns the work it created; the same key with a different request is a
 * client error (422). A key lives as long as its work is retained.
 */
export type IdempotencyLookup =
  | { kind: 'new' }
  | { kind: 'replay'; workId: string }
  | { kind: 'mismatch'; workId: string };

export class IdempotencyKeys {
  private readonly byKey = new Map<string, { fingerprint: string; workId: string }>();

  lookup(key: string, fingerprint: string): IdempotencyLookup {
    const entry = this.byKey.get(key);
    if (!entry) return { kind: 'new' };
    return entry.fingerprint === fingerprint ? { kind: 'replay', workId: entry.workId } : { kind: 'mismatch', workId: entry.workId };
  }

  remember(key: string, fingerprint: string, workId: string): void {
    this.byKey.set(key, { fingerprint, workId });
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }

  get size(): number { return this.byKey.size; }
}

/** A stable text for a request: keys sorted, so field order in the body does not matter. */
export function fingerprint(request: Readonly<Record<string, unknown>>): string {
  return JSON.stringify(Object.keys(request).sort().map((k) => [k, request[k]]));
}
