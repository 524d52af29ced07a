/**
 * A deliberately tiny glob over mutex names: `*` matches any run of characters
 * (backslashes included, so `*` alone matches every name), `?` matches exactly one
 * character (a code point), everything else matches itself, case-sensitively like the
 * names. No escapes and no character classes: a backslash is a literal backslash,
 * which is what `Global\Deploy*` needs to mean (general-purpose glob libraries treat
 * it as an escape or a path separator).
 */

export type NameMatcher = (name: string) => boolean;

function compileOne(pattern: string): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    else source += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'u');
}

/** One matcher for a list of patterns: true when any pattern matches. Throws on an empty pattern. */
export function compileNamePatterns(patterns: readonly string[]): NameMatcher {
  const regexps = patterns.map((p) => {
    if (p.length === 0) throw new Error('a pattern must not be empty');
    return compileOne(p);
  });
  return (name) => regexps.some((r) => r.test(name));
}
