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

/** Every key matching `pattern` (SCAN, so Redis is never blocked). */
const scanKeys = async (redis: Redis, pattern: string): Promise<string[]> => {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
};

/** Every lock key of the service's streams (stream names are `<service>:…`). */
const lockKeys = (redis: Redis, service: string): Promise<string[]> => scanKeys(redis, `${service}:*${MUTEX_KEY_SEP}*`);

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

/**
 * Deletes every key of the demo's service: `<service>-input` (with its group), `<service>-dead`,
 * any other `<service>-…` key the library keeps, and the `<service>:…` lock keys of its streams.
 * The service name is unique to this run, so nothing else matches. Returns the number deleted.
 */
export const deleteServiceKeys = async (redis: Redis, service: string): Promise<number> => {
  const keys = [...(await scanKeys(redis, `${service}-*`)), ...(await scanKeys(redis, `${service}:*`))];
  let deleted = 0;
  for (let i = 0; i < keys.length; i += 500) deleted += await redis.del(...keys.slice(i, i + 500));
  return deleted;
};
