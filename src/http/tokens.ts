/**
 * The configured bearer tokens, kept as SHA-256 digests and compared in constant
 * time: every candidate is hashed (so its length leaks nothing) and compared with
 * every token (no early exit, so which token matched leaks nothing either).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class TokenSet {
  private readonly digests: Buffer[];
  /** Stable, log-safe names for the tokens: a prefix of a second digest, not of the token. */
  private readonly ids: string[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
    this.ids = tokens.map((t) => `tok_${createHash('sha256').update(`tpmutex-token-id:${t}`).digest('hex').slice(0, 12)}`);
  }

  get size(): number { return this.digests.length; }

  /** The id of the token equal to `candidate`, or null. */
  identify(candidate: string): string | null {
    const d = digest(candidate);
    let match = -1;
    for (let i = 0; i < this.digests.length; i++) {
      if (timingSafeEqual(d, this.digests[i]!) && match < 0) match = i;
    }
    return match < 0 ? null : this.ids[match]!;
  }
}
