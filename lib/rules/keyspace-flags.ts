/** The event classes that the `A` alias of `notify-keyspace-events` stands for. */
const ALIAS_A = 'g$lshzxetd';

/**
 * Adds the `required` flags to the `current` value of `notify-keyspace-events`, keeping every
 * flag another application set. Returns `current` itself when nothing is missing.
 *
 * @example
 * mergeKeyspaceFlags('Eg', 'Kx') // 'EgKx'
 * mergeKeyspaceFlags('AK', 'Kx') // 'AK' (A already includes x)
 */
export const mergeKeyspaceFlags = (current: string, required: string): string => {
  const has = (flag: string): boolean => current.includes(flag) || (current.includes('A') && ALIAS_A.includes(flag));
  const missing = [...required].filter((flag) => !has(flag));
  return missing.length === 0 ? current : current + missing.join('');
};
