import type Redis from 'ioredis';
import { groupName, lbsKey } from '../lib';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` every `pollMs` until it holds: true, or false once `timeoutMs` passed. */
export const waitFor = async (condition: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 20): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await sleep(pollMs);
  }
  return true;
};

/** Like `waitFor`, but fails with `what` after `timeoutMs`. */
export const waitUntil = async (condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string | (() => string), pollMs = 20): Promise<void> => {
  if (!(await waitFor(condition, timeoutMs, pollMs))) throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${typeof what === 'string' ? what : what()}`);
};

/** Every key matching `pattern` (SCAN, so Redis is never blocked). */
export const scanKeys = async (redis: Redis, pattern: string): Promise<string[]> => {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
};

/**
 * Deletes every key of the service: `<service>-…` (the LBS and its group, the dead-letter stream,
 * deadlines, lock sets) and `<service>:…` (the locks of its streams, named `streamName`). Returns
 * how many it deleted.
 */
export const cleanup = async (redis: Redis, service: string): Promise<number> => {
  const keys = await scanKeys(redis, `${service}[-:]*`);
  let deleted = 0;
  for (let i = 0; i < keys.length; i += 500) deleted += await redis.del(...keys.slice(i, i + 500));
  return deleted;
};

/**
 * Creates the service's group as the client does (XGROUP CREATE ... 0 MKSTREAM; BUSYGROUP is
 * fine), for a test or a benchmark that reads or fills the LBS before any client ran. From id 0,
 * as the client: entries already in the LBS are handed out too.
 */
export const createGroup = async (redis: Redis, service: string): Promise<void> => {
  await redis.xgroup('CREATE', lbsKey(service), groupName(service), '0', 'MKSTREAM').catch((err: Error) => {
    if (!err.message.startsWith('BUSYGROUP')) throw err;
  });
};
