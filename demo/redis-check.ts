/**
 * The demo's view of Redis at the end: is anything left in the load-balancer stream, its
 * pending list or its locks (the proof that nothing was lost); and the removal of every key
 * the demo's service created.
 */
import type Redis from 'ioredis';
import { MUTEX_KEY_SEP, deadLetterKey, groupName, lbsKey } from '../lib';

export interface RedisCheck {
  /** XLEN of the LBS: entries not finished with doneStream. */
  readonly lbsLength: number;
  /** Entries delivered to a consumer and never acknowledged (XPENDING); -1 if the group is missing. */
  readonly pending: number;
  /** Lock keys of the service's streams still present. */
  readonly locksLeft: number;
  /** XLEN of the dead-letter stream (bad entries; the demo adds none). */
  readonly deadLetters: number;
}

/** Every lock key of the service's streams (stream names are `<service>:…`). */
const lockKeys = async (redis: Redis, service: string): Promise<string[]> => {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${service}:*${MUTEX_KEY_SEP}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
};

const pendingCount = async (redis: Redis, service: string): Promise<number> => {
  try {
    const [count] = (await redis.xpending(lbsKey(service), groupName(service))) as [number, ...unknown[]];
    return Number(count);
  } catch {
    return -1;
  }
};

export const inspectService = async (redis: Redis, service: string): Promise<RedisCheck> => ({
  lbsLength: await redis.xlen(lbsKey(service)),
  pending: await pendingCount(redis, service),
  locksLeft: (await lockKeys(redis, service)).length,
  deadLetters: await redis.xlen(deadLetterKey(service)),
});

/** Deletes `<service>-input` (with its group), `<service>-dead` and the locks of its streams. Returns the number deleted. */
export const deleteServiceKeys = async (redis: Redis, service: string): Promise<number> => {
  const keys = [lbsKey(service), deadLetterKey(service), ...(await lockKeys(redis, service))];
  return redis.del(...keys);
};
