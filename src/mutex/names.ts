/**
 * Win32 kernel-object names as the API accepts them (docs/design.md §1.7): case-sensitive, an
 * optional `Global\` or `Local\` prefix, no other backslash, at most MAX_PATH (260)
 * characters as passed to the OS. A bare name lives in the session namespace, so it is
 * normalised to `Local\name`: one mutex, one spelling, in every response.
 */
import { invalid } from '../service-error.js';

export const MAX_NAME_LENGTH = 260;

const PREFIXES = ['Global\\', 'Local\\'] as const;
// C0 and C1 control characters and DEL: invisible in logs and UIs, and NUL ends the name for the OS.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
// With the u flag, a surrogate pair is one code point, so this matches only unpaired
// surrogates, which cannot round-trip through UTF-8 (JSON, URLs, logs).
const LONE_SURROGATE = /\p{Surrogate}/u;

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

export function parseMutexName(raw: string): NameCheck {
  if (raw.length === 0) return { ok: false, reason: 'must not be empty' };
  const prefix = PREFIXES.find((p) => raw.startsWith(p));
  const normalised = prefix ? raw : `Local\\${raw}`;
  const local = normalised.slice(normalised.indexOf('\\') + 1);
  if (local.length === 0) return { ok: false, reason: `needs a name after the "${prefix}" prefix` };
  if (local.includes('\\')) {
    return { ok: false, reason: 'may contain a backslash only after a "Global" or "Local" prefix (case-sensitive), e.g. "Global\\\\Deploy"' };
  }
  if (CONTROL.test(raw)) return { ok: false, reason: 'must not contain NUL or other control characters' };
  if (LONE_SURROGATE.test(raw)) {
    return { ok: false, reason: 'must be well-formed Unicode (no unpaired surrogates)' };
  }
  if (normalised.length > MAX_NAME_LENGTH) {
    return {
      ok: false,
      reason: `is ${normalised.length} characters as passed to the OS ("${normalised.slice(0, 16)}…"); at most ${MAX_NAME_LENGTH} are allowed`,
    };
  }
  return { ok: true, name: normalised };
}

/** A name from a request, normalised, or a validation error naming the field (`noun name …`). */
export function normaliseName(raw: string, field: string, noun: string): string {
  const check = parseMutexName(raw);
  if (!check.ok) throw invalid([{ field, message: `${noun} name ${check.reason}` }]);
  return check.name;
}
