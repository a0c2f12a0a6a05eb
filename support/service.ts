import type { Cluster } from 'ioredis';
import Redis, { RedisOptions } from 'ioredis';
import { Subscription } from 'rxjs';
import { MUTEX_KEY_SEP, RedisStreamClient, groupName } from '../lib';
import type { ClientOptions, Notification } from '../lib';
import { Layout, resolveLayout } from '../lib/layout';
import { RedisServer } from './redis-server';
import { connectUrl, isClusterUrl } from './redis-url';

let sharedUrl: string | undefined;

/** Sets the Redis that `connect()` and `useService` talk to by default (the mocha root hook does). */
export const setSharedRedisUrl = (url: string | undefined): void => void (sharedUrl = url);

/** The Redis every spec that does not need its own server talks to. */
export const sharedRedisUrl = (): string => {
  if (sharedUrl === undefined) throw new Error('The shared Redis is not provisioned (spec/helpers/hooks.ts runs as a mocha root hook).');
  return sharedUrl;
};

let counter = 0;

/** A service name no other test uses, so tests never see each other's keys. */
export const uniqueService = (label: string): string =>
  `t-${label}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

/** A data-stream name that belongs to `service` (so `cleanup` finds its lock keys). */
export const streamName = (service: string, i: number | string): string => `${service}:stream-${i}`;

/** A connection (errors swallowed; close it yourself), by default to the shared Redis (a Cluster in the Cluster pass, typed as `Redis`). */
export const connect = (url: string = sharedRedisUrl(), options: RedisOptions = {}): Redis => connectUrl(url, options);

/** True in the Cluster pass (RSCRX_CLUSTER=1): the shared Redis is a local Redis Cluster (support/cluster.ts). */
export const onCluster = (): boolean => sharedUrl !== undefined && isClusterUrl(sharedUrl);

/** The key layout the clients of `service` use on the shared Redis (tagged, 3 partitions, on the Cluster; Go on one node). */
export const layoutOf = (service: string): Layout => resolveLayout(service, onCluster(), {});

/** The lock key of an LBS entry of `service`, in its layout. */
export const lockKeyIn = (service: string, dataStreamName: string, idInLbs: string): string => layoutOf(service).lockKeyOf(dataStreamName, idInLbs);

/** The LBS key of `service` that holds `dataStreamName` (partition 0 when no name is given). */
export const lbsKeyOf = (service: string, dataStreamName?: string): string => {
  const layout = layoutOf(service);
  return layout.keysOf(dataStreamName === undefined ? 0 : layout.partitionOf(dataStreamName)).lbs;
};

/** Every LBS key of `service` (one per partition). */
export const lbsKeysOf = (service: string): string[] => {
  const layout = layoutOf(service);
  return Array.from({ length: layout.partitions }, (_, p) => layout.keysOf(p).lbs);
};

/** The primaries of a Cluster connection, or the connection itself. */
const nodesOf = (redis: Redis): Redis[] => ((redis as unknown as Cluster).isCluster ? (redis as unknown as Cluster).nodes('master') : [redis]);

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
  for (const node of nodesOf(redis)) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
  }
  return keys;
};

/**
 * Deletes every key of the service: `<service>-…` (the LBS and its group, the dead-letter stream,
 * deadlines, lock sets) and `<service>:…` (the locks of its streams, named `streamName`). Returns
 * how many it deleted.
 */
export const cleanup = async (redis: Redis, service: string): Promise<number> => {
  const keys = [...(await scanKeys(redis, `${service}[-:]*`)), ...(await scanKeys(redis, `{${service}:*`))];
  if (nodesOf(redis)[0] !== redis) return (await Promise.all(keys.map((key) => redis.del(key)))).reduce((a, b) => a + b, 0);
  let deleted = 0;
  for (let i = 0; i < keys.length; i += 500) deleted += await redis.del(...keys.slice(i, i + 500));
  return deleted;
};

/** Every lock key of the service's streams that currently exists, with its holder. */
export const locksOf = async (redis: Redis, service: string): Promise<Map<string, string>> => {
  const locks = new Map<string, string>();
  for (const key of await scanKeys(redis, layoutOf(service).kind === 'go' ? `${service}:*${MUTEX_KEY_SEP}*` : `{${service}:*}*${MUTEX_KEY_SEP}*`)) {
    const holder = await redis.get(key);
    if (holder !== null) locks.set(key, holder);
  }
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
    this.subscription ??= this.client.init().subscribe({
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
    await waitUntil(() => this.of(type).length >= count, timeoutMs, () => `${count} ${type} on ${this.client.id} (have ${this.of(type).length})`);
  }

  stop(): void {
    this.subscription?.unsubscribe();
  }
}

/**
 * Creates the service's group as the client does (XGROUP CREATE ... 0 MKSTREAM; BUSYGROUP is
 * fine), for a test or a benchmark that reads or fills the LBS before any client ran. From id 0,
 * as the client: entries already in the LBS are handed out too.
 */
export const createGroup = async (redis: Redis, service: string): Promise<void> => {
  for (const lbs of lbsKeysOf(service)) {
    await redis.xgroup('CREATE', lbs, groupName(service), '0', 'MKSTREAM').catch((err: Error) => {
      if (!err.message.startsWith('BUSYGROUP')) throw err;
    });
  }
};

/** Reads up to `count` new LBS entries as `consumer` and takes no lock: a consumer that crashed right after. */
export const readAsCrashedConsumer = async (redis: Redis, service: string, consumer: string, count: number): Promise<string[]> => {
  const ids: string[] = [];
  for (const lbs of lbsKeysOf(service)) {
    if (ids.length >= count) break;
    const reply = (await redis.xreadgroup('GROUP', groupName(service), consumer, 'COUNT', count - ids.length, 'STREAMS', lbs, '>')) as
      | [string, [string, string[]][]][]
      | null;
    ids.push(...(reply?.[0]?.[1] ?? []).map(([id]) => id));
  }
  return ids;
};

/** XADD of a raw LBS entry (any fields), for bad-input tests; in the partition of `dataStreamName` (else partition 0). */
export const addRaw = (redis: Redis, service: string, ...fields: string[]): Promise<string> =>
  redis.xadd(lbsKeyOf(service, rawName(fields)), '*', ...fields) as Promise<string>;

/** The DataStreamName of raw LBS fields, when they hold one. */
const rawName = (fields: readonly string[]): string | undefined => {
  try {
    const name = (JSON.parse(fields[1] ?? '') as { DataStreamName?: unknown }).DataStreamName;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
};

export interface ServiceOptions {
  /** Client options of every `consumer()` (the test's own win), e.g. a short hbInterval. */
  readonly defaults?: ClientOptions;
  /** Options of every connection it opens. */
  readonly connection?: RedisOptions;
  /** Create the service's group (`createGroup`) before each test. */
  readonly group?: boolean;
  /** `consumer()` starts the consumer (default true). */
  readonly start?: boolean;
}

/** What a test of `useService` works with; a new service (and everything else) every test. */
export interface ServiceFixture {
  readonly service: string;
  /** A connection for the test's own commands, opened on first use. */
  readonly admin: Redis;
  /** A new connection, closed after the test. */
  connect(options?: RedisOptions): Redis;
  /** A recording client of the service (or `on.service`) on a new connection (or `on.redis`); stopped after the test. */
  consumer(id: string, options?: ClientOptions, on?: { redis?: Redis; service?: string }): Consumer;
  /** Another service name of this test; its keys are deleted after the test too. */
  anotherService(label: string): string;
  /** Runs `fn` after the test, once its consumers stopped (the last registered first). */
  onTeardown(fn: () => unknown): void;
  /** A private redis-server for this test, stopped after it: `admin`, `connect()` and `consumer()` use it from now on. */
  privateServer(args?: readonly string[]): Promise<RedisServer>;
}

interface TestState {
  readonly service: string;
  readonly services: string[];
  readonly consumers: Consumer[];
  readonly connections: Redis[];
  readonly teardowns: (() => unknown)[];
  server?: RedisServer;
  admin?: Redis;
  sharedAdmin?: Redis;
  touchedShared: boolean;
}

/**
 * The scaffolding of a spec against Redis, for the `describe` it is called in: before each test a
 * unique service (and its group, with `group`); after each test its consumers stopped, its
 * teardowns run, its connections closed, its keys deleted (on the shared Redis; a private server
 * is thrown away with them).
 */
export const useService = (label: string, options: ServiceOptions = {}): ServiceFixture => {
  let state: TestState | undefined;
  const now = (): TestState => {
    if (state === undefined) throw new Error(`useService('${label}') is used outside a test`);
    return state;
  };
  const open = (extra: RedisOptions = {}): Redis => {
    const s = now();
    if (s.server !== undefined) return s.server.connect({ ...options.connection, ...extra });
    s.touchedShared = true;
    return connect(sharedRedisUrl(), { ...options.connection, ...extra });
  };
  const fixture: ServiceFixture = {
    get service() {
      return now().service;
    },
    get admin() {
      return (now().admin ??= open());
    },
    connect: (extra) => {
      const redis = open(extra);
      now().connections.push(redis);
      return redis;
    },
    consumer: (id, clientOptions = {}, on = {}) => {
      const c = new Consumer(on.redis ?? fixture.connect(), on.service ?? now().service, { consumerId: id, ...options.defaults, ...clientOptions });
      now().consumers.push(c);
      return options.start === false ? c : c.start();
    },
    anotherService: (other) => {
      const name = uniqueService(other);
      now().services.push(name);
      return name;
    },
    onTeardown: (fn) => void now().teardowns.push(fn),
    privateServer: async (args = []) => {
      const s = now();
      if (s.server !== undefined) throw new Error('useService: one private server per test');
      s.sharedAdmin = s.admin;
      s.admin = undefined;
      s.server = await RedisServer.start({ args });
      return s.server;
    },
  };

  beforeEach(async () => {
    const service = uniqueService(label);
    state = { service, services: [service], consumers: [], connections: [], teardowns: [], touchedShared: false };
    if (options.group) await createGroup(fixture.admin, service);
  });

  afterEach(async () => {
    const s = now();
    state = undefined;
    s.consumers.forEach((c) => c.stop());
    try {
      for (const fn of s.teardowns.reverse()) await fn();
    } finally {
      s.connections.forEach((r) => r.disconnect());
      const sharedAdmin = s.server === undefined ? s.admin : s.sharedAdmin;
      if (s.touchedShared) {
        const admin = sharedAdmin ?? connect();
        for (const service of s.services) await cleanup(admin, service);
        admin.disconnect();
      }
      s.admin?.disconnect();
      s.sharedAdmin?.disconnect();
      await s.server?.stop();
    }
  });

  return fixture;
};

/** Entries in every LBS partition of `service` (XLEN summed). */
export const lbsLength = async (redis: Redis, service: string): Promise<number> =>
  (await Promise.all(lbsKeysOf(service).map((lbs) => redis.xlen(lbs)))).reduce((a, b) => a + b, 0);

/** The LBS entries of `service`, every partition, as `[id, fields]` (partition by partition). */
export const lbsEntriesOf = async (redis: Redis, service: string): Promise<[string, string[]][]> =>
  (await Promise.all(lbsKeysOf(service).map((lbs) => redis.xrange(lbs, '-', '+') as Promise<[string, string[]][]>))).flat();

/** Up to `count` rows `[id, consumer, idleMs, deliveries]` of the pending lists of every partition of `service`. */
export const pendingRows = async (redis: Redis, service: string, count: number): Promise<[string, string, number, number][]> =>
  (await Promise.all(lbsKeysOf(service).map((lbs) => redis.xpending(lbs, groupName(service), '-', '+', count) as Promise<[string, string, number, number][]>))).flat().slice(0, count);

/** The dead letters of `service`, every partition, as `[id, fields]`. */
export const deadLettersOf = async (redis: Redis, service: string): Promise<[string, string[]][]> => {
  const layout = layoutOf(service);
  const keys = Array.from({ length: layout.partitions }, (_, p) => layout.keysOf(p).dead);
  return (await Promise.all(keys.map((key) => redis.xrange(key, '-', '+') as Promise<[string, string[]][]>))).flat();
};

/** EVALSHA and EVAL calls so far, summed over every primary (INFO commandstats). */
export const scriptCalls = async (redis: Redis): Promise<number> => {
  let calls = 0;
  for (const node of nodesOf(redis)) {
    const stats = await node.info('commandstats');
    calls += Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  }
  return calls;
};
