import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import { LBS_FIELD } from '../keys';
import type { Layout } from '../layout';
import { ensurePartitionCount } from './partition-count';

/**
 * XADD of one LBS entry (the producer side), in one round trip with `XGROUP CREATE ... 0
 * MKSTREAM`: the group exists before the entry, so a group created later at `$` (by a Go
 * consumer) cannot skip it. An existing group (BUSYGROUP) is fine. In the tagged layout the entry
 * goes to the partition of its data stream (after checking the service's partition count).
 */
export const addEntry = async (redis: Redis | Cluster, service: string, layout: Layout, dataStreamName: string, json: string): Promise<string> => {
  if (layout.kind === 'tagged') await ensurePartitionCount(redis, service, layout.partitions);
  const { lbs, group: groupName } = layout.keysOf(layout.partitionOf(dataStreamName));
  const replies = (await redis.pipeline().xgroup('CREATE', lbs, groupName, '0', 'MKSTREAM').xadd(lbs, '*', LBS_FIELD, json).exec()) ?? [];
  const [group, added] = replies;
  if (group?.[0] && !/^BUSYGROUP/.test((group[0] as Error).message)) throw group[0];
  if (added?.[0]) throw added[0];
  return added?.[1] as string;
};
