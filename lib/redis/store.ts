import type Redis from 'ioredis';
import type { BadEntry, RawEntry } from '../codecs/lbs-message';
import { mergeKeyspaceFlags } from '../operators/keyspace-flags';
import { LBS_FIELD, deadLetterKey, groupName, lbsKey } from './keys';
import { Scripts } from './scripts';

/** One entry of the group's pending list (XPENDING, extended form). */
export interface PendingEntry {
  readonly id: string;
  readonly consumer: string;
  readonly idleMs: number;
}

/** What `ensureKeyspaceEvents` did. */
export type KeyspaceSetup =
  | { readonly kind: 'unchanged'; readonly flags: string }
  | { readonly kind: 'set'; readonly from: string; readonly flags: string }
  | { readonly kind: 'refused'; readonly cause: unknown };

type XEntries = [string, string[]][];

/**
 * Every Redis command the client sends, for one service and one consumer. The rest of the library
 * talks to Redis only through this class (and `Scripts`).
 */
export class LbsStore {
  readonly lbs: string;
  readonly group: string;
  readonly dead: string;
  readonly scripts: Scripts;

  constructor(readonly redis: Redis, service: string, readonly consumer: string, private readonly ttl: number) {
    this.lbs = lbsKey(service);
    this.group = groupName(service);
    this.dead = deadLetterKey(service);
    this.scripts = new Scripts(redis);
  }

  /** Adds `K` and `x` to `notify-keyspace-events` (or sets exactly `Kx` when `force`). */
  async ensureKeyspaceEvents(force: boolean): Promise<KeyspaceSetup> {
    try {
      const [, current = ''] = (await this.redis.config('GET', 'notify-keyspace-events')) as string[];
      const wanted = force ? 'Kx' : mergeKeyspaceFlags(current, 'Kx');
      if (wanted === current) return { kind: 'unchanged', flags: current };
      await this.redis.config('SET', 'notify-keyspace-events', wanted);
      return { kind: 'set', from: current, flags: wanted };
    } catch (cause) {
      return { kind: 'refused', cause };
    }
  }

  /** XGROUP CREATE ... $ MKSTREAM; an existing group is fine. */
  async createGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.lbs, this.group, '$', 'MKSTREAM');
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('BUSYGROUP'))) throw err;
    }
  }

  /** XREADGROUP of new entries on the blocking reader; [] when the block times out. */
  async readNew(reader: Redis, count: number, blockMs: number): Promise<RawEntry[]> {
    const reply = (await reader.xreadgroup(
      'GROUP', this.group, this.consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.lbs, '>',
    )) as [string, XEntries][] | null;
    return reply === null ? [] : toEntries(reply[0]?.[1] ?? []);
  }

  /** SET NX PX of each lock in one round trip; true where this consumer took it. */
  async takeLocks(lockKeys: readonly string[]): Promise<boolean[]> {
    if (lockKeys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of lockKeys) pipeline.set(key, this.consumer, 'PX', this.ttl, 'NX');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => err === null && reply === 'OK');
  }

  /** Copies each bad entry with its reason to `<service>-dead`, then XACK + XDEL it, in one transaction. */
  async deadLetter(bad: readonly BadEntry[]): Promise<void> {
    if (bad.length === 0) return;
    const multi = this.redis.multi();
    for (const { entry, reason } of bad) {
      multi.xadd(this.dead, '*', 'source-id', entry.id, 'reason', reason, 'consumer', this.consumer, ...entry.fields);
      multi.xack(this.lbs, this.group, entry.id);
      multi.xdel(this.lbs, entry.id);
    }
    await multi.exec();
  }

  /** One page of the pending list: entries idle at least `minIdleMs`, from `start` (use `(id` to go past id). */
  async pending(minIdleMs: number, start: string, count: number): Promise<PendingEntry[]> {
    const rows = (await this.redis.xpending(this.lbs, this.group, 'IDLE', minIdleMs, start, '+', count)) as [string, string, number, number][];
    return rows.map(([id, consumer, idleMs]) => ({ id, consumer, idleMs }));
  }

  /** The LBS entries with these ids, in one round trip; null where an entry was deleted. */
  async entries(ids: readonly string[]): Promise<(RawEntry | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.xrange(this.lbs, id, id);
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => {
      if (err !== null) throw err;
      return toEntries(reply as XEntries)[0] ?? null;
    });
  }

  /** XACK of pending entries whose LBS entry no longer exists (nothing to hand out). */
  async ackDangling(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.xack(this.lbs, this.group, ...ids);
  }

  claim(lock: string, id: string, minIdleMs: number) {
    return this.scripts.claim(this.lbs, lock, this.group, this.consumer, minIdleMs, id, this.ttl);
  }

  extendLocks(lockKeys: readonly string[]) {
    return this.scripts.extendLocks(lockKeys, this.consumer, this.ttl);
  }

  finish(lock: string, id: string) {
    return this.scripts.finish(this.lbs, lock, this.group, id, this.consumer);
  }

  releaseLock(lock: string) {
    return this.scripts.releaseLock(lock, this.consumer);
  }

  /**
   * Hands a lock back so that it expires now and every consumer hears `expired`: PEXPIRE 1 if
   * ours, then a read once the millisecond has passed, which makes Redis delete it at once.
   * Resolves false if the lock was not ours.
   */
  async expireLock(lock: string): Promise<boolean> {
    if (!(await this.scripts.expireLock(lock, this.consumer))) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
    await this.redis.exists(lock);
    return true;
  }

  /** XADD of one LBS entry (the producer side). */
  static async add(redis: Redis, service: string, json: string): Promise<string> {
    return (await redis.xadd(lbsKey(service), '*', LBS_FIELD, json)) as string;
  }
}

const toEntries = (raw: XEntries): RawEntry[] =>
  raw.filter(([, fields]) => fields !== null).map(([id, fields]) => ({ id, fields }));
