import type { Cluster, Redis } from 'ioredis';
import { entryKeysOf } from '../keys';
import type { CommitResult } from '../port';
import { EntryPort, ReadReply, ReadRequest, WrongTypeReply } from '../entries/port';
import { fieldsOf, planReads } from '../entries/read-plan';
import type { StreamEntry } from '../entries/types';
import { Batcher } from './batcher';
import { isCluster } from './connections';
import { KEYS_PER_CALL } from './scripts';

/** The Cluster slot of a key (ioredis' own CRC16 module). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot = require('cluster-key-slot') as (key: string) => number;

/** On a Cluster, how long an empty read waits before the engine reads again (no blocking read there: its keys span slots). */
const CLUSTER_POLL_MS = 100;

type XReadReply = [string, [string, string[]][]][] | null;

const isWrongType = (err: unknown): boolean => err instanceof Error && err.message.startsWith('WRONGTYPE');

const xreadArgs = (count: number, requests: readonly ReadRequest[], blockMs: number | undefined): (string | number)[] => {
  const args: (string | number)[] = ['COUNT', count];
  if (blockMs !== undefined) args.push('BLOCK', blockMs);
  args.push('STREAMS');
  for (const r of requests) args.push(r.key);
  for (const r of requests) args.push(r.after);
  return args;
};

/**
 * XREAD's reply as `[key, rows][]`. Under RESP3 (ioredis 6's default protocol) Redis answers with
 * a map, which `call()` hands back flattened (`[key, rows, key, rows, ...]`), or as a Map or an
 * object with `replyMapping: 'resp3'`.
 */
const streamsOf = (reply: XReadReply | (string | [string, string[]][])[]): [string, [string, string[]][]][] => {
  if (reply === null || reply === undefined) return [];
  // `replyMapping: 'resp3'`: a Map or a plain object of key -> rows.
  if (reply instanceof Map) return [...(reply as Map<string, [string, string[]][]>).entries()];
  if (!Array.isArray(reply)) return Object.entries(reply as Record<string, [string, string[]][]>);
  if (reply.length === 0) return [];
  if (typeof reply[0] !== 'string') return reply as [string, [string, string[]][]][];
  const flat = reply as (string | [string, string[]][])[];
  const out: [string, [string, string[]][]][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as [string, string[]][]]);
  return out;
};

const addReply = (into: Map<string, StreamEntry[]>, reply: XReadReply): void => {
  for (const [key, rows] of streamsOf(reply)) {
    const entries: StreamEntry[] = [];
    for (const [id, flat] of rows) if (flat !== null) entries.push({ id, fields: fieldsOf(flat) });
    if (entries.length > 0) into.set(key, entries);
  }
};

/** One Redis call per key on a Cluster (the keys span slots), one pipeline on one node. */
const eachKey = async <T, R>(redis: Redis | Cluster, keys: readonly T[], call: (r: Redis | Cluster, key: T) => Promise<R>, pipelined: (p: ReturnType<Redis['pipeline']>, key: T) => void): Promise<R[]> => {
  if (isCluster(redis)) return Promise.all(keys.map((key) => call(redis, key)));
  const pipeline = redis.pipeline();
  for (const key of keys) pipelined(pipeline, key);
  return ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err !== null) throw err;
    return value as R;
  });
};

/**
 * `EntryPort` on ioredis. Reads go to a reader connection of its own (a `duplicate()` named
 * `rscrx-entries`, no offline queue, `blockingTimeout` beyond the BLOCK), opened by `open()` or the
 * first read; its client id is read at every `ready` so that `unblock()` can end its blocking read.
 * Commits of one event-loop turn go to Redis as one `commit` script call per partition; position
 * lookups as one pipeline.
 *
 * On a Cluster the data streams' keys span slots, so there is no blocking read: one XREAD per slot
 * of the requested keys (sent at once through the Cluster connection), and when none returned
 * anything, a wait of up to `CLUSTER_POLL_MS` that `unblock()` ends early.
 */
export class RedisEntryPort implements EntryPort {
  private reader: Redis | undefined;
  private opening: Promise<Redis> | undefined;
  private poll: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private readerId: number | undefined;
  private blocked = false;
  private readonly commits: Batcher<{ readonly lockKey: string; readonly position: string }, CommitResult>;
  private readonly positions: Batcher<string, string | null>;
  private readonly committedEntries: Batcher<{ readonly key: string; readonly id: string }, StreamEntry | null>;

  constructor(
    private readonly redis: Redis | Cluster,
    commit: (items: readonly { readonly lockKey: string; readonly position: string }[]) => Promise<CommitResult[]>,
    private readonly deadKey: string,
    private readonly blockMs: number,
  ) {
    this.commits = new Batcher((items) => commit(items), KEYS_PER_CALL);
    this.positions = new Batcher(
      (locks) => eachKey<string, string | null>(this.redis, locks.map((lock) => entryKeysOf(lock).committed), (r, key) => r.get(key), (p, key) => void p.get(key)),
      KEYS_PER_CALL,
    );
    this.committedEntries = new Batcher(async (items) => {
      const rows = await eachKey<{ readonly key: string; readonly id: string }, [string, string[]][]>(
        this.redis,
        items,
        (r, { key, id }) => r.xrange(key, id, id),
        (p, { key, id }) => void p.xrange(key, id, id),
      );
      return rows.map((found) => (found?.[0] === undefined ? null : { id: found[0][0], fields: fieldsOf(found[0][1]) }));
    }, KEYS_PER_CALL);
  }

  async read(requests: readonly ReadRequest[], blockMs: number | undefined): Promise<ReadReply> {
    const redis = this.redis;
    if (isCluster(redis)) return this.readCluster(redis, requests, blockMs);
    const reader = await this.connected();
    const plan = planReads(requests);
    const out = new Map<string, StreamEntry[]>();
    try {
      if (plan.length === 1) {
        addReply(out, await this.xread(reader, plan[0]!.count, plan[0]!.requests, blockMs));
        return out;
      }
      const pipeline = reader.pipeline();
      for (const command of plan) pipeline.call('XREAD', ...xreadArgs(command.count, command.requests, undefined));
      for (const [err, reply] of (await pipeline.exec()) ?? []) {
        if (err !== null) throw err;
        addReply(out, reply as XReadReply);
      }
      if (out.size === 0 && blockMs !== undefined) {
        addReply(out, await this.xread(reader, Math.min(...plan.map((c) => c.count)), requests, blockMs));
      }
      return out;
    } catch (err) {
      if (isWrongType(err)) throw new WrongTypeReply((err as Error).message);
      throw err;
    }
  }

  /** On a Cluster: one XREAD per slot of the keys, all at once; then, if nothing came, a wait `unblock()` may end. */
  private async readCluster(redis: Cluster, requests: readonly ReadRequest[], blockMs: number | undefined): Promise<ReadReply> {
    const bySlot = new Map<number, ReadRequest[]>();
    for (const r of requests) {
      const slot = calculateSlot(r.key);
      const group = bySlot.get(slot);
      if (group === undefined) bySlot.set(slot, [r]);
      else group.push(r);
    }
    const out = new Map<string, StreamEntry[]>();
    try {
      const replies = await Promise.all(
        [...bySlot.values()].flatMap((group) => planReads(group).map((command) => redis.call('XREAD', ...xreadArgs(command.count, command.requests, undefined)) as Promise<XReadReply>)),
      );
      for (const reply of replies) addReply(out, reply);
    } catch (err) {
      if (isWrongType(err)) throw new WrongTypeReply((err as Error).message);
      throw err;
    }
    if (out.size === 0 && blockMs !== undefined) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.poll = undefined;
          resolve();
        };
        const timer = setTimeout(wake, Math.min(blockMs, CLUSTER_POLL_MS));
        this.poll = { timer, wake };
      });
    }
    return out;
  }

  async unblock(): Promise<boolean> {
    if (this.poll !== undefined) {
      this.poll.wake();
      return true;
    }
    if (!this.blocked || this.readerId === undefined) return false;
    return (await this.redis.client('UNBLOCK', this.readerId)) === 1;
  }

  committed(lockKey: string): Promise<string | null> {
    return this.positions.push(lockKey);
  }

  entryAt(key: string, id: string): Promise<StreamEntry | null> {
    return this.committedEntries.push({ key, id });
  }

  commit(lockKey: string, position: string): Promise<CommitResult> {
    return this.commits.push({ lockKey, position });
  }

  async types(keys: readonly string[]): Promise<string[]> {
    const types = await eachKey<string, string>(this.redis, keys, (r, key) => r.type(key), (p, key) => void p.type(key));
    return types.map(String);
  }

  async deadLetter(fields: readonly string[]): Promise<void> {
    await this.redis.xadd(this.deadKey, '*', ...fields);
  }

  close(): void {
    this.poll?.wake();
    const reader = this.reader;
    this.reader = undefined;
    this.opening = undefined;
    this.readerId = undefined;
    if (reader === undefined) return;
    reader.removeAllListeners('error');
    reader.on('error', () => undefined);
    reader.disconnect(false);
  }

  private async xread(reader: Redis, count: number, requests: readonly ReadRequest[], blockMs: number | undefined): Promise<XReadReply> {
    this.blocked = blockMs !== undefined;
    try {
      return (await reader.call('XREAD', ...xreadArgs(count, requests, blockMs))) as XReadReply;
    } finally {
      this.blocked = false;
    }
  }

  /** Opens the reader connection (at once, or the one being opened); on a Cluster there is none. */
  async open(): Promise<void> {
    if (!isCluster(this.redis)) await this.connected();
  }

  private connected(): Promise<Redis> {
    this.opening ??= this.connectReader();
    return this.opening;
  }

  /** The reader: CLIENT SETNAME as part of the connect, no ready check (a read while Redis loads fails and is retried), CLIENT ID read before the first read and at every reconnect. */
  private async connectReader(): Promise<Redis> {
    const reader = (this.redis as Redis).duplicate({
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      connectionName: 'rscrx-entries',
      blockingTimeout: this.blockMs + 1000,
    });
    this.reader = reader;
    reader.on('error', () => undefined);
    let reconnect = false;
    reader.on('ready', () => {
      if (!reconnect) return void (reconnect = true);
      void (reader.client('ID') as Promise<number>).then((id) => {
        if (this.reader === reader) this.readerId = id;
      }, () => undefined);
    });
    try {
      await reader.connect();
      const id = (await reader.client('ID')) as number;
      if (this.reader !== reader) throw new Error('The entry reader was closed while it connected');
      this.readerId = id;
      return reader;
    } catch (err) {
      if (this.reader === reader) this.close();
      else reader.disconnect(false);
      throw err;
    }
  }
}
