/**
 * The earlier of two stream entry ids (`<ms>-<seq>`, compared as numbers, not as text).
 *
 * @example
 * earlierId('9-0', '10-0') // '9-0'
 */
export const earlierId = (a: string, b: string): string => {
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  if (ad !== bd) return ad < bd ? a : b;
  const am = a.slice(0, ad);
  const bm = b.slice(0, bd);
  if (am !== bm) return am < bm ? a : b;
  if (a.length !== b.length) return a.length < b.length ? a : b;
  return a <= b ? a : b;
};

/** The smallest and the largest id of a non-empty list of entry ids. */
export const idRange = (ids: readonly string[]): { first: string; last: string } => {
  let first = ids[0]!;
  let last = first;
  for (const id of ids) {
    first = earlierId(first, id);
    if (earlierId(last, id) === last) last = id;
  }
  return { first, last };
};
