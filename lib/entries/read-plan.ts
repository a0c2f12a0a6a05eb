import type { ReadRequest } from './port';

/** Most keys in one XREAD: keeps each command short, so Redis stays responsive with many owned streams. */
export const READ_CHUNK = 1000;

/** One XREAD: its COUNT and its streams. */
export interface ReadCommand {
  readonly count: number;
  readonly requests: readonly ReadRequest[];
}

/**
 * The XREAD commands of one read round: the requests grouped by COUNT (in order of first
 * appearance), each group cut into chunks of `chunk` keys. Pure.
 *
 * @example
 * planReads([{ key: 'a', after: '0-0', count: 10 }, { key: 'b', after: '5-0', count: 10 }])
 * // [{ count: 10, requests: [a, b] }]
 */
export const planReads = (requests: readonly ReadRequest[], chunk = READ_CHUNK): ReadCommand[] => {
  if (requests.length === 0) return [];
  const count = requests[0]!.count;
  // The usual round (one COUNT, one chunk): no copy, since a round runs for every few entries.
  if (requests.length <= chunk && requests.every((r) => r.count === count)) return [{ count, requests }];
  const byCount = new Map<number, ReadRequest[]>();
  for (const r of requests) {
    const group = byCount.get(r.count);
    if (group === undefined) byCount.set(r.count, [r]);
    else group.push(r);
  }
  const commands: ReadCommand[] = [];
  for (const [count, group] of byCount) {
    for (let i = 0; i < group.length; i += chunk) commands.push({ count, requests: group.slice(i, i + chunk) });
  }
  return commands;
};

/** Turns a flat `[field, value, ...]` list into a record; a repeated field keeps its last value, and any name (even `__proto__`) is an own property. */
export const fieldsOf = (flat: readonly string[]): Record<string, string> => {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    if (name === '__proto__') Object.defineProperty(fields, name, { value: flat[i + 1], enumerable: true, writable: true, configurable: true });
    else fields[name] = flat[i + 1]!;
  }
  return fields;
};
