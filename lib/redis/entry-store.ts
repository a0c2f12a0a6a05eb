import type Redis from 'ioredis';
import { entryKeysOf } from '../keys';
import type { CommitResult } from '../port';
import { EntryPort, ReadReply, ReadRequest, WrongTypeReply } from '../entries/port';
import { fieldsOf, planReads } from '../entries/read-plan';
import type { StreamEntry } from '../entries/types';
import { Batcher } from './batcher';
import { KEYS_PER_CALL, Scripts } from './scripts';

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

const addReply = (into: Map<string, StreamEntry[]>, reply: XReadReply): void => {
  for (const [key, rows] of reply ?? []) {
    const entries = rows.filter((row) => row[1] !== null).map(([id, flat]): StreamEntry => ({ id, fields: fieldsOf(flat) }));
    if (entries.length > 0) into.set(key, entries);
  }
};

/**
 * `EntryPort` on ioredis. Reads go to a reader connection of its own (a `duplicate()` named
 * `rscrx-entries`, no offline queue, `blockingTimeout` beyond the BLOCK), opened at the first
 * read; its client id is read at every `ready` so that `unblock()` can end its blocking read.
 * Commits of one event-loop turn go to Redis as one `commit` script call; position lookups as one pipeline.
 */
export class RedisEntryPort implements EntryPort {
  private reader: Redis | undefined;
  private readerId: number | undefined;
  private blocked = false;
  private readonly commits: Batcher<{ readonly lockKey: string; readonly position: string }, CommitResult>;
  private readonly positions: Batcher<string, string | null>;

  constructor(
    private readonly redis: Redis,
    scripts: Scripts,
    private readonly deadKey: string,
    private readonly blockMs: number,
  ) {
    this.commits = new Batcher((items) => scripts.commit(items), KEYS_PER_CALL);
    this.positions = new Batcher(async (locks) => {
      const pipeline = this.redis.pipeline();
      for (const lock of locks) pipeline.get(entryKeysOf(lock).committed);
      return ((await pipeline.exec()) ?? []).map(([err, value]) => {
        if (err !== null) throw err;
        return value as string | null;
      });
    }, KEYS_PER_CALL);
  }

  async read(requests: readonly ReadRequest[], blockMs: number | undefined): Promise<ReadReply> {
    const reader = await this.open();
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

  async unblock(): Promise<boolean> {
    if (!this.blocked || this.readerId === undefined) return false;
    return (await this.redis.client('UNBLOCK', this.readerId)) === 1;
  }

  committed(lockKey: string): Promise<string | null> {
    return this.positions.push(lockKey);
  }

  commit(lockKey: string, position: string): Promise<CommitResult> {
    return this.commits.push({ lockKey, position });
  }

  async types(keys: readonly string[]): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.type(key);
    return ((await pipeline.exec()) ?? []).map(([err, value]) => {
      if (err !== null) throw err;
      return String(value);
    });
  }

  async deadLetter(fields: readonly string[]): Promise<void> {
    await this.redis.xadd(this.deadKey, '*', ...fields);
  }

  close(): void {
    const reader = this.reader;
    this.reader = undefined;
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

  private async open(): Promise<Redis> {
    if (this.reader !== undefined) return this.reader;
    const reader = this.redis.duplicate({ lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, blockingTimeout: this.blockMs + 1000 });
    this.reader = reader;
    reader.on('error', () => undefined);
    reader.on('ready', () => {
      void reader.client('SETNAME', 'rscrx-entries').catch(() => undefined);
      void (reader.client('ID') as Promise<number>).then((id) => {
        if (this.reader === reader) this.readerId = id;
      }, () => undefined);
    });
    await reader.connect();
    this.readerId = (await reader.client('ID')) as number;
    return reader;
  }
}
