/**
 * Work ids are `<boot>.<n>` (n in base 36, from 1). From an id the service can tell an
 * evicted work (issued by this process, no longer kept) from one that never existed.
 */
export class WorkIds {
  private last = 0;
  constructor(private readonly boot: string) {}

  /** The creation number of the last id issued (0 before the first). */
  get lastIssued(): number { return this.last; }

  next(): { seq: number; id: string } {
    const seq = ++this.last;
    return { seq, id: `${this.boot}.${seq.toString(36)}` };
  }

  /** The creation number of an id issued by this process, or null. */
  seqOf(id: string): number | null {
    const dot = id.lastIndexOf('.');
    if (dot < 0 || id.slice(0, dot) !== this.boot) return null;
    const digits = id.slice(dot + 1);
    if (!/^[0-9a-z]{1,11}$/.test(digits)) return null;
    const seq = parseInt(digits, 36);
    return seq >= 1 && seq <= this.last ? seq : null;
  }
}
