/** Weighted rendezvous hashing, for the fleet's designated claimers. Pure. */

/** FNV-1a of a string's UTF-16 code units, 32 bits; `from`: the hash of a prefix, to go on after it. */
export const fnv1a = (text: string, from = 0x811c9dc5): number => {
  let h = from;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
};

/** FNV-1a of `<candidate>\0`, by candidate: a candidate's part of the hash is the same for every key. */
const prefixes = new Map<string, number>();
const prefixHash = (name: string): number => {
  let h = prefixes.get(name);
  if (h === undefined) {
    if (prefixes.size >= 10_000) prefixes.clear();
    h = fnv1a(`${name}\u0000`);
    prefixes.set(name, h);
  }
  return h;
};

/** MurmurHash3's finaliser: spreads FNV-1a's weak low bits over all 32. */
export const fmix32 = (input: number): number => {
  let h = input >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

/**
 * Weighted rendezvous hashing: the candidate that takes `key`. Each candidate scores
 * `-weight / ln(u)`, `u` a uniform hash of (candidate, key) in (0, 1); the highest wins, so a
 * candidate wins a share of the keys proportional to its weight, and every consumer picks the
 * same winner without talking to the others. Undefined when no candidate has a positive weight.
 *
 * @example
 * rendezvous('stream-7', [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }]) // 'b' for about 3 keys in 4
 */
export const rendezvous = (key: string, candidates: readonly Weighted[]): string | undefined => rendezvousPair(key, candidates)[0];

/** A rendezvous candidate: its name, and its weight (keys won in proportion; none when not positive). */
export interface Weighted {
  readonly name: string;
  readonly weight: number;
}

/** Whether score `a` of candidate `an` ranks above score `b` of `bn` (ties: the smaller name). */
const above = (a: number, an: string, b: number, bn: string | undefined): boolean => a > b || (a === b && bn !== undefined && an < bn);

/**
 * `rendezvous`'s winner and runner-up (the winner once the winner is left out): consumers whose
 * views differ a little may disagree on the winner, and the runner-up is the first to step in.
 *
 * @example
 * rendezvousPair('stream-7', [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }]) // ['b', 'a'] for about 3 keys in 4
 */
export const rendezvousPair = (key: string, candidates: readonly Weighted[]): readonly [string | undefined, string | undefined] => {
  let best: string | undefined;
  let bestScore = -Infinity;
  let second: string | undefined;
  let secondScore = -Infinity;
  for (const { name, weight } of candidates) {
    if (!(weight > 0)) continue;
    const u = (fmix32(fnv1a(key, prefixHash(name))) + 0.5) / 4294967296;
    const score = -weight / Math.log(u);
    if (above(score, name, bestScore, best)) {
      second = best;
      secondScore = bestScore;
      best = name;
      bestScore = score;
    } else if (above(score, name, secondScore, second)) {
      second = name;
      secondScore = score;
    }
  }
  return [best, second];
};
