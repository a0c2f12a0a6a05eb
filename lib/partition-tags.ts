/**
 * The hash tags of a tagged service's partitions, chosen so that the partitions spread evenly over
 * the primaries of a Cluster whose slots were split the default way.
 *
 * A tag's slot is CRC16 of its text mod 16384, unrelated to where the primaries' slot ranges
 * begin: the plain tags `{<service>:<p>}` put two of 3 partitions on one primary for about half of
 * all service names. So partition `p` of `P` takes the first tag, in the order
 * `{<service>:<p>}`, `{<service>:<p>.1}`, `{<service>:<p>.2}`, ..., whose slot lies in the `p`-th
 * of `P` equal slot ranges, the ranges `redis-cli --cluster create` gives `P` primaries. The search
 * depends on the service name and `P` alone, so every consumer and producer finds the same tags.
 * With `P` a multiple of the primary count, each primary of such a Cluster holds `P / primaries`
 * partitions.
 */

/** The hash slot function ioredis routes Cluster commands with (CRC16 of the hash tag, mod 16384). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot = require('cluster-key-slot') as (key: string) => number;

/** Hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

/** Most partitions a tagged service may have: the tag search costs about `P` tries per partition. */
export const MAX_PARTITIONS = 1024;

/**
 * The slot ranges `[first, last]` `redis-cli --cluster create` assigns to `n` primaries
 * (`clusterManagerCommandCreate`: `n` equal shares of the 16384 slots, rounded, the last share
 * ending at 16383).
 *
 * @example
 * slotRanges(3) // [[0, 5460], [5461, 10922], [10923, 16383]]
 */
export const slotRanges = (n: number): [number, number][] => {
  const share = CLUSTER_SLOTS / n;
  const ranges: [number, number][] = [];
  let first = 0;
  for (let j = 0; j < n; j++) {
    let last = Math.round(j * share + share - 1);
    if (last > CLUSTER_SLOTS || j === n - 1) last = CLUSTER_SLOTS - 1;
    if (last < first) last = first;
    ranges.push([first, last]);
    first = last + 1;
  }
  return ranges;
};

/** The tag of variant `k` of partition `p`: `{<service>:<p>}` for 0, else `{<service>:<p>.<k>}`. */
const variantTag = (service: string, p: number, k: number): string => (k === 0 ? `{${service}:${p}}` : `{${service}:${p}.${k}}`);

/** Tags found, by count and service (a client and every `addStream` call resolve them). */
const found = new Map<string, readonly string[]>();
const FOUND_MAX = 1000;

/**
 * The hash tags of the `partitions` partitions of `service`, in partition order (see above).
 *
 * @example
 * partitionTags('orders', 3).map((tag) => calculateSlot(tag)) // one slot in each third of 0..16383
 */
export const partitionTags = (service: string, partitions: number): readonly string[] => {
  const memo = `${partitions}\n${service}`;
  const known = found.get(memo);
  if (known !== undefined) return known;
  const tags = slotRanges(partitions).map(([first, last], p) => {
    for (let k = 0; ; k++) {
      const tag = variantTag(service, p, k);
      const slot = calculateSlot(tag);
      if (slot >= first && slot <= last) return tag;
    }
  });
  if (found.size >= FOUND_MAX) found.clear();
  found.set(memo, tags);
  return tags;
};

/**
 * The hash tag of partition `partition` of a tagged service with `partitions` partitions:
 * `{<service>:<partition>}`, or `{<service>:<partition>.<k>}` when the plain tag's slot lies
 * outside the partition's share of the slots (see `partitionTags`).
 *
 * @example
 * await cluster.call('CLUSTER', 'KEYSLOT', partitionTag('orders', 1, 3)); // a slot in 5461..10922
 */
export const partitionTag = (service: string, partition: number, partitions: number): string => {
  const tag = partitionTags(service, partitions)[partition];
  if (tag === undefined) throw new RangeError(`partition ${partition} of ${partitions}`);
  return tag;
};

/**
 * The partition and the tag a key of `service` begins with (`{<service>:<p>}` or
 * `{<service>:<p>.<k>}`), or undefined for a key of another service or layout.
 */
export const parseTag = (service: string, key: string): { partition: number; tag: string } | undefined => {
  const prefix = `{${service}:`;
  if (!key.startsWith(prefix)) return undefined;
  const end = key.indexOf('}', prefix.length);
  const match = end < 0 ? null : /^(0|[1-9]\d*)(?:\.[1-9]\d*)?$/.exec(key.slice(prefix.length, end));
  return match === null ? undefined : { partition: Number(match[1]), tag: key.slice(0, end + 1) };
};
