import * as t from 'io-ts';

/** The option names a codec knows, nested ones (`retry.maxDelay`) under their parent. */
interface Known {
  readonly [name: string]: Known | null;
}

/** The props of a `t.type`/`t.partial` codec, looking through `t.union([codec, t.undefined])`. */
const propsOf = (codec: t.Mixed): Record<string, t.Mixed> | undefined => {
  if (codec instanceof t.InterfaceType || codec instanceof t.PartialType) return codec.props as Record<string, t.Mixed>;
  if (codec instanceof t.UnionType) {
    for (const member of codec.types as t.Mixed[]) {
      const props = propsOf(member);
      if (props !== undefined) return props;
    }
  }
  return undefined;
};

/** The names `codec` knows, read from the codec itself, so an option added to it is known at once. */
export const knownOptions = (codec: t.Mixed): Known => {
  const props = propsOf(codec) ?? {};
  return Object.fromEntries(Object.entries(props).map(([name, prop]) => [name, propsOf(prop) === undefined ? null : knownOptions(prop)]));
};

/** Levenshtein distance, case-insensitive: `hbIntervall` is 1 from `hbInterval`, `HBInterval` 0. */
const distance = (a: string, b: string): number => {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    row = next;
  }
  return row[y.length]!;
};

/** The names share their start: 4 letters at least and half the shorter one (`maxRetry`, `maxRetries`). */
const isPrefix = (a: string, b: string): boolean => {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  let common = 0;
  while (common < x.length && common < y.length && x[common] === y[common]) common++;
  return common >= Math.max(4, Math.ceil(Math.min(x.length, y.length) / 2));
};

/**
 * The known name closest to `name`, when it is close enough to be a typo (at most a third of its
 * letters off, or sharing their start).
 */
export const closestOption = (name: string, known: readonly string[]): string | undefined => {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of known) {
    const d = distance(name, candidate);
    const score = d <= Math.max(2, Math.floor(name.length / 3)) ? d : isPrefix(name, candidate) ? d + 0.5 : Infinity;
    if (score < bestScore) [best, bestScore] = [candidate, score];
  }
  return best;
};

/** An option key the codec does not know, with its path (`retry.maxDelays`) and the closest known name. */
export interface UnknownOption {
  readonly path: string;
  readonly closest: string | undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every key of `input` that `known` does not list, nested objects included (only those the
 * codec describes: `logger` and `metrics` are the caller's objects and keep their own keys).
 */
export const unknownOptions = (input: unknown, known: Known, prefix = ''): UnknownOption[] => {
  if (!isRecord(input)) return [];
  return Object.keys(input).flatMap((key): UnknownOption[] => {
    if (!Object.prototype.hasOwnProperty.call(known, key)) {
      const closest = closestOption(key, Object.keys(known));
      return [{ path: prefix + key, closest: closest === undefined ? undefined : prefix + closest }];
    }
    const nested = known[key];
    return nested ? unknownOptions(input[key], nested, `${prefix}${key}.`) : [];
  });
};

/** `Unknown option "hbIntervall" (did you mean "hbInterval"?)`, for each unknown key. */
export const explainUnknown = (unknown: readonly UnknownOption[]): string =>
  unknown.map(({ path, closest }) => `unknown option "${path}"${closest === undefined ? '' : ` (did you mean "${closest}"?)`}`).join('; ');
