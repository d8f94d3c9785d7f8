/**
 * Bounded memos for the clerk's pure readings of text. The clerk reads the whole context on every
 * call, and a conversation's contexts repeat the same messages, arguments and outputs call after
 * call: remembering what a text meant (keyed by the exact text) saves re-parsing it, and cannot
 * change an answer. Each memo forgets everything when full, so memory stays bounded.
 */

/** Default number of texts a memo remembers. */
export const MEMO_LIMIT = 10_000;

/**
 * A memo of a pure function of a string. The values are shared between callers, so they are
 * frozen (a caller that tried to change one would throw).
 *
 * @example
 * const lengthOf = memoByText((text) => ({ n: text.length }));
 * lengthOf('abc') === lengthOf('abc'); // true
 */
export function memoByText<V>(compute: (text: string) => V, limit = MEMO_LIMIT): (text: string) => V {
  const cache = new Map<string, V>();
  return (text) => {
    let value = cache.get(text);
    if (value === undefined && !cache.has(text)) {
      value = deepFreeze(compute(text));
      if (cache.size >= limit) cache.clear();
      cache.set(text, value);
    }
    return value as V;
  };
}

/** Freezes a value and everything it holds. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
