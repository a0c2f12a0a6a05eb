import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { PartitionCountError, PartitionTagsChangedError } from '../errors';
import { partitionCountKey } from '../keys';
import { partitionTags } from '../partition-tags';

/** Counts already checked, per connection and service: the stored count never changes, so one check per connection is enough. */
const checked = new WeakMap<object, Map<string, number>>();

/**
 * Makes sure a tagged service runs with `partitions` partitions: stores the count if it is the
 * first (SET NX of `{<service>:0}-partitions`), else compares. Rejects with `PartitionCountError`
 * when Redis holds another count, and with `PartitionTagsChangedError` when an LBS of an earlier
 * version's tags (`{<service>:<p>}-input` where this version's tag of `p` differs) still exists.
 */
export const ensurePartitionCount = async (redis: Redis | Cluster, service: string, partitions: number): Promise<void> => {
  const known = checked.get(redis)?.get(service);
  if (known === partitions) return;
  const key = partitionCountKey(service);
  await redis.set(key, String(partitions), 'NX');
  const count = Number(await redis.get(key));
  if (count !== partitions) throw new PartitionCountError(service, count, partitions);
  const moved = partitionTags(service, partitions).flatMap((tag, p) => (tag === `{${service}:${p}}` ? [] : [{ old: `{${service}:${p}}-input`, now: `${tag}-input` }]));
  const left = (await Promise.all(moved.map(async (m) => ((await redis.exists(m.old)) > 0 ? [m] : [])))).flat();
  if (left.length > 0) throw new PartitionTagsChangedError(service, left.map((m) => m.old), left.map((m) => m.now));
  if (!checked.has(redis)) checked.set(redis, new Map());
  checked.get(redis)!.set(service, count);
};
