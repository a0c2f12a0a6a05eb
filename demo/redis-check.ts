/**
 * The demo's view of Redis at the end: is anything left in the load-balancer stream, its
 * pending list or its locks (the proof that nothing was lost). support/service.ts `cleanup`
 * removes every key of the demo's service afterwards (its name is unique to the run).
 */
import type Redis from 'ioredis';
import { MUTEX_KEY_SEP, deadLetterKey, groupName, lbsKey } from '../lib';
import { scanKeys } from '../support/service';

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

