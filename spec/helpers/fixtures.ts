import Redis from 'ioredis';
import { Subscription } from 'rxjs';
import { MUTEX_KEY_SEP, RedisStreamClient } from '../../lib';
import type { ClientOptions, Notification } from '../../lib';
import { sharedRedisUrl } from './hooks';

let counter = 0;

/** A service name no other test uses, so tests never see each other's keys. */
export const uniqueService = (label: string): string =>
  `t-${label}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

/** A data-stream name that belongs to `service` (so `cleanup` finds its lock keys). */
export const streamName = (service: string, i: number | string): string => `${service}:stream-${i}`;

export const connect = (url: string = sharedRedisUrl()): Redis => {
  const redis = new Redis(url);
  redis.on('error', () => undefined);
  return redis;
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export const waitUntil = async (condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(20);
  }
};

/** Deletes every key of the service: the LBS, the dead-letter stream and its streams' locks. */
export const cleanup = async (redis: Redis, service: string): Promise<void> => {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${service}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
};

/** Every lock key of the service's streams that currently exists, with its holder. */
export const locksOf = async (redis: Redis, service: string): Promise<Map<string, string>> => {
  const locks = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${service}*${MUTEX_KEY_SEP}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) {
      const holder = await redis.get(key);
      if (holder !== null) locks.set(key, holder);
    }
  } while (cursor !== '0');
  return locks;
};

/** A client in this process that records every notification (and the error, if any). */
export class Consumer {
  readonly client: RedisStreamClient;
  readonly events: Notification[] = [];
  /** When each event arrived (Date.now()), in the order of `events`. */
  readonly arrivals: number[] = [];
  error: unknown;
  completed = false;
  private subscription: Subscription | undefined;

  constructor(readonly redis: Redis, readonly service: string, options: ClientOptions) {
    this.client = new RedisStreamClient(redis, service, options);
  }

  start(): this {
    this.subscription = this.client.init().subscribe({
      next: (n) => {
        this.events.push(n);
        this.arrivals.push(Date.now());
      },
      error: (err: unknown) => (this.error = err),
      complete: () => (this.completed = true),
    });
    return this;
  }

  of<T extends Notification['type']>(type: T): Extract<Notification, { type: T }>[] {
    return this.events.filter((n): n is Extract<Notification, { type: T }> => n.type === type);
  }

  /** When the first event of `type` for this data stream arrived (Date.now()), if it did. */
  arrivalOf(type: Notification['type'], dataStreamName: string): number | undefined {
    const i = this.events.findIndex((n) => n.type === type && n.payload.dataStreamName === dataStreamName);
    return i < 0 ? undefined : this.arrivals[i];
  }

  async waitFor(type: Notification['type'], count: number, timeoutMs = 10_000): Promise<void> {
    await waitUntil(() => this.of(type).length >= count, timeoutMs, `${count} ${type} on ${this.client.id} (have ${this.of(type).length})`);
  }

  stop(): void {
    this.subscription?.unsubscribe();
  }
}

/** Creates the service's group the way the client does (XGROUP CREATE ... $ MKSTREAM). */
export const createGroup = async (redis: Redis, service: string): Promise<void> => {
  await redis.xgroup('CREATE', `${service}-input`, `${service}-group`, '$', 'MKSTREAM').catch((err: Error) => {
    if (!err.message.startsWith('BUSYGROUP')) throw err;
  });
};

/** Reads up to `count` new LBS entries as `consumer` and takes no lock: a consumer that crashed right after. */
export const readAsCrashedConsumer = async (redis: Redis, service: string, consumer: string, count: number): Promise<string[]> => {
  const reply = (await redis.xreadgroup('GROUP', `${service}-group`, consumer, 'COUNT', count, 'STREAMS', `${service}-input`, '>')) as
    | [string, [string, string[]][]][]
    | null;
  return (reply?.[0]?.[1] ?? []).map(([id]) => id);
};

/** XADD of a raw LBS entry (any fields), for bad-input tests. */
export const addRaw = (redis: Redis, service: string, ...fields: string[]): Promise<string> =>
  redis.xadd(`${service}-input`, '*', ...fields) as Promise<string>;
