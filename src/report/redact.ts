/**
 * A last line of defence: records are redacted before they are stored, but a report must never be
 * the place a credential leaks from, so the renderers mask authorization and cookie values again.
 * Over-masking (the rest of a line after `Cookie:`) is preferred to a partial mask.
 */

export const REDACTED = '[redacted]';

// name, optional closing quote of a JSON key (possibly backslash-escaped), separator, then a quoted
// value (same quote token) or the rest of the line.
const SECRET_PAIR =
  /\b((?:proxy-)?authorization|(?:set-)?cookie)(\\{0,2}["']|)(\s*[:=]\s*)(?:(\\{0,2}["'])(.*?)\4|([^\r\n]*))/gi;
// A token has a digit or token punctuation in it, which keeps prose ("Basic authentication") intact.
const BEARER = /\b([Bb]earer|Basic)(\s+)(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=])[A-Za-z0-9._~+/=-]{8,}/g;

/** Masks `Authorization: …`, `"cookie": "…"`, `set-cookie=…` values and bare bearer tokens in text. */
export function redactText(text: string): string {
  return text
    .replace(SECRET_PAIR, (_m, name: string, keyQuote: string, sep: string, valueQuote: string | undefined) =>
      valueQuote === undefined ? `${name}${keyQuote}${sep}${REDACTED}` : `${name}${keyQuote}${sep}${valueQuote}${REDACTED}${valueQuote}`,
    )
    .replace(BEARER, `$1$2${REDACTED}`);
}

/**
 * A copy of `value` with every string redacted. Keys are not inspected: records hold no header
 * maps, and a check may well be named `authorization`.
 */
export function redactDeep<T>(value: T): T {
  return walk(value) as T;
}

function walk(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map(walk);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, walk(v)]));
  }
  return value;
}
