import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import { LBS_FIELD } from '../keys';
import type { Layout } from '../layout';
import { NotReplicatedError } from '../errors';
import { isCluster } from './connections';
import { ensurePartitionCount } from './partition-count';

const REDIRECT_RETRIES = 50;
const REDIRECT_DELAY_MS = 50;
const isRedirect = (err: Error | null | undefined): boolean => err != null && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test(err.message);

/**
 * XADD of one LBS entry (the producer side), in one round trip with `XGROUP CREATE ... 0
 * MKSTREAM`: the group exists before the entry, so a group created later at `$` (by a Go
 * consumer) cannot skip it. An existing group (BUSYGROUP) is fine. In the tagged layout the entry
 * goes to the partition of its data stream (after checking the service's partition count).
 */
export const addEntry = async (
  redis: Redis | Cluster,
  service: string,
  layout: Layout,
  dataStreamName: string,
  json: string,
  { replicas = 0, replicaTimeoutMs = 1000 }: { replicas?: number; replicaTimeoutMs?: number } = {},
): Promise<string> => {
  if (layout.kind === 'tagged') await ensurePartitionCount(redis, service, layout.partitions);
  const { lbs, group: groupName } = layout.keysOf(layout.partitionOf(dataStreamName));
  const send = async (): Promise<[Error | null, unknown][]> => {
    const pipeline = redis.pipeline().xgroup('CREATE', lbs, groupName, '0', 'MKSTREAM').xadd(lbs, '*', LBS_FIELD, json);
    // WAIT in the same pipeline: it runs on the node that took the XADD, right after it.
    if (replicas > 0) pipeline.call('WAIT', replicas, replicaTimeoutMs);
    return ((await pipeline.exec()) ?? []) as [Error | null, unknown][];
  };
  let replies = await send();
  // A Cluster pipeline follows MOVED / ASK only when every command got it; WAIT (no key) does not,
  // so while a slot moves the XADD comes back redirected, unapplied: send it again (ioredis has
  // not learnt the new owner from such a pipeline: refresh its slots on MOVED; ASK lasts until the
  // slot's migration ends).
  for (let attempt = 0; attempt < REDIRECT_RETRIES && isRedirect(replies[1]?.[0]); attempt++) {
    await new Promise((r) => setTimeout(r, REDIRECT_DELAY_MS));
    if (/^MOVED /.test(replies[1]![0]!.message) && isCluster(redis)) await new Promise<void>((r) => redis.refreshSlotsCache(() => r()));
    replies = await send();
  }
  const [group, added, waited] = replies;
  if (group?.[0] && !/^BUSYGROUP/.test((group[0] as Error).message)) throw group[0];
  if (added?.[0]) throw added[0];
  const id = added?.[1] as string;
  if (waited?.[0]) throw waited[0];
  if (replicas > 0 && Number(waited?.[1]) < replicas) throw new NotReplicatedError(id, Number(waited?.[1]), replicas);
  return id;
};
