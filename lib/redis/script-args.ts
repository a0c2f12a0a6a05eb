/**
 * How the scripts' arguments are laid out (`scriptArgs`) and how the registry they read back is
 * parsed (`parseMembers`): the pure part of `scripts.ts`, with no connection.
 */
import { entryKeysOf } from '../keys';
import type { MemberRecord } from '../rules/balance';

/** A key `consumeStream` keeps beside each lock (see `entryKeysOf`), declared to a script that touches it. */
export type BesideKey = 'committed' | 'fence';

/**
 * The arguments of one call of a `-n` script over `entries[from, to)`: the key count, the fixed
 * keys, one lock key per entry, then for each of `beside` the key of that kind beside each lock
 * (a block of n keys per kind, in the locks' order), the fixed arguments, then each entry's
 * arguments (`argvOf`, in order). Every key a script touches is declared, so that a Cluster
 * moving the slot key by key answers with a redirection or TRYAGAIN (which ioredis follows),
 * never with a script that reached a key no longer there. Built in one preallocated array: these
 * calls carry up to 1000 entries on the heartbeat and hand-out paths.
 */
export const scriptArgs = <E>(
  fixedKeys: readonly string[],
  entries: readonly E[],
  from: number,
  to: number,
  keyOf: (entry: E) => string,
  fixedArgv: readonly (string | number)[],
  argvOf: readonly ((entry: E) => string | number)[] = [],
  beside: readonly BesideKey[] = [],
): (string | number)[] => {
  const n = to - from;
  const width = argvOf.length;
  const firstKey = 1 + fixedKeys.length;
  const keyCount = n * (1 + beside.length);
  const firstArgv = firstKey + keyCount + fixedArgv.length;
  const args: (string | number)[] = new Array(firstArgv + width * n);
  args[0] = fixedKeys.length + keyCount;
  for (let k = 0; k < fixedKeys.length; k++) args[1 + k] = fixedKeys[k]!;
  for (let a = 0; a < fixedArgv.length; a++) args[firstKey + keyCount + a] = fixedArgv[a]!;
  for (let i = 0; i < n; i++) {
    const entry = entries[from + i]!;
    const lock = keyOf(entry);
    args[firstKey + i] = lock;
    if (beside.length > 0) {
      const keys = entryKeysOf(lock);
      for (let b = 0; b < beside.length; b++) args[firstKey + n * (b + 1) + i] = keys[beside[b]!];
    }
    for (let a = 0; a < width; a++) args[firstArgv + width * i + a] = argvOf[a]!(entry);
  }
  return args;
};

/** The registry's flat field/value list (`<capacity> <owned> <joinedAt> <incarnation> <seenAt>`) as member records; malformed ones are skipped. */
export const parseMembers = (flat: readonly string[]): MemberRecord[] => {
  const members: MemberRecord[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const [capacity, owned, joinedAt, incarnation, seenAt] = flat[i + 1]!.split(' ');
    const numbers = [Number(capacity), Number(owned), Number(joinedAt), Number(seenAt)];
    if (incarnation === undefined || numbers.some(Number.isNaN)) continue;
    members.push({ name: flat[i]!, capacity: numbers[0]! < 0 ? Infinity : numbers[0]!, owned: numbers[1]!, joinedAt: numbers[2]!, incarnation, seenAt: numbers[3]! });
  }
  return members;
};
