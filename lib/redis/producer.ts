import type Redis from 'ioredis';
import { LBS_FIELD, lbsKey, groupName } from '../keys';
import { RedisConnection, asIoredis } from './connections';

/**
 * XADD of one LBS entry (the producer side), in one round trip with `XGROUP CREATE ... 0
 * MKSTREAM`: the group exists before the entry, so a group created later at `$` (by a Go
 * consumer) cannot skip it. An existing group (BUSYGROUP) is fine.
 */
export const addEntry = async (connection: RedisConnection, service: string, json: string): Promise<string> => {
  const redis: Redis = asIoredis(connection);
  const lbs = lbsKey(service);
  const replies = (await redis.pipeline().xgroup('CREATE', lbs, groupName(service), '0', 'MKSTREAM').xadd(lbs, '*', LBS_FIELD, json).exec()) ?? [];
  const [group, added] = replies;
  if (group?.[0] && !/^BUSYGROUP/.test((group[0] as Error).message)) throw group[0];
  if (added?.[0]) throw added[0];
  return added?.[1] as string;
};
