import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { PartitionCountError } from '../errors';
import { partitionCountKey } from '../keys';

/** Counts already checked, per connection and service: the stored count never changes, so one check per connection is enough. */
const checked = new WeakMap<object, Map<string, number>>();

/**
 * Makes sure a tagged service runs with `partitions` partitions: stores the count if it is the
 * first (SET NX of `{<service>:0}-partitions`), else compares. Rejects with `PartitionCountError`
 * when Redis holds another count.
 */
export const ensurePartitionCount = async (redis: Redis | Cluster, service: string, partitions: number): Promise<void> => {
  const known = checked.get(redis)?.get(service);
  if (known === partitions) return;
  const key = partitionCountKey(service);
  await redis.set(key, String(partitions), 'NX');
  const count = Number(await redis.get(key));
  if (count !== partitions) throw new PartitionCountError(service, count, partitions);
  if (!checked.has(redis)) checked.set(redis, new Map());
  checked.get(redis)!.set(service, count);
};
