import type Redis from 'ioredis';
import type { BadEntry, RawEntry } from '../codecs/lbs-message';
import { mergeKeyspaceFlags } from '../operators/keyspace-flags';
import { randomUUID } from 'node:crypto';
import { LBS_FIELD, consumerLocksKey, deadLetterKey, deadlinesKey, epochKey, groupName, lbsKey, namesKey, reaperGuardKey, reconcilerGuardKey } from './keys';
import { ClaimResult, FinishResult, KEYS_PER_CALL, Scripts, TakeResult } from './scripts';
import { Batcher } from './batcher';

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

/** Reads of a handed-back lock until Redis deletes it (each 2 ms after the previous one). */
const EXPIRE_READS = 5;

/** Services whose group a producer connection has already made sure of. */
const groupsEnsured = new WeakMap<Redis, Set<string>>();

/**
 * Every Redis command the client sends, for one service and one consumer. The rest of the library
 * talks to Redis only through this class (and `Scripts`).
 */
export class LbsStore {
  readonly lbs: string;
  readonly group: string;
  readonly dead: string;
  readonly scripts: Scripts;
  /** `finish` calls made in the same turn of the event loop go to Redis as one script call. */
  private readonly finishing: Batcher<{ readonly lockKey: string; readonly id: string; readonly name: string }, FinishResult>;
  /** `claim` calls made in the same turn of the event loop go to Redis as one script call. */
  private readonly claims: Batcher<{ readonly lockKey: string; readonly id: string; readonly minIdle: number }, ClaimResult>;
  /** `entry` lookups made in the same turn of the event loop go to Redis as one pipeline. */
  private readonly lookups: Batcher<string, RawEntry | null>;

  constructor(readonly redis: Redis, private readonly service: string, readonly consumer: string, ttl: number) {
    this.lbs = lbsKey(service);
    this.group = groupName(service);
    this.dead = deadLetterKey(service);
    this.scripts = new Scripts(redis, {
      lbs: this.lbs,
      group: this.group,
      deadlines: deadlinesKey(service),
      names: namesKey(service),
      epochKey: epochKey(service),
      owner: consumer,
      ownLocks: consumerLocksKey(service, consumer),
      ttl,
    });
    this.finishing = new Batcher((entries) => this.scripts.finish(entries), KEYS_PER_CALL);
    this.lookups = new Batcher((ids) => this.entries(ids), KEYS_PER_CALL);
    this.claims = new Batcher((entries) => this.scripts.claim(entries), KEYS_PER_CALL);
  }

  /** The server's `maxmemory` and `maxmemory-policy` (undefined where CONFIG is refused). */
  async evictionPolicy(): Promise<{ maxmemory: number; policy: string } | undefined> {
    try {
      const [, maxmemory = '0'] = (await this.redis.config('GET', 'maxmemory')) as string[];
      const [, policy = 'noeviction'] = (await this.redis.config('GET', 'maxmemory-policy')) as string[];
      return { maxmemory: Number(maxmemory), policy };
    } catch {
      return undefined;
    }
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

  /** The epoch this consumer saw at its last successful heartbeat (see `epochKey`). */
  private seenEpoch = '';

  /** Creates the consumer group (see `ensureGroup`) and the service's epoch, if missing. */
  async createGroup(): Promise<void> {
    await ensureGroup(this.redis, this.lbs, this.group);
    await this.redis.set(epochKey(this.service), randomUUID(), 'NX');
    if (this.seenEpoch === '') this.seenEpoch = (await this.redis.get(epochKey(this.service))) ?? '';
  }

  /** XREADGROUP of new entries on the blocking reader; [] when the block times out. */
  async readNew(reader: Redis, count: number, blockMs: number): Promise<RawEntry[]> {
    const reply = (await reader.xreadgroup(
      'GROUP', this.group, this.consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.lbs, '>',
    )) as [string, XEntries][] | null;
    return reply === null ? [] : toEntries(reply[0]?.[1] ?? []);
  }

  /** Takes the locks of new entries (and records them in this consumer's lock set) in one script call per chunk. */
  async takeLocks(entries: readonly { readonly lockKey: string; readonly name: string; readonly id: string }[]): Promise<TakeResult[]> {
    if (entries.length === 0) return [];
    return this.scripts.takeLocks(entries);
  }

  /** Consumers of the service past their deadline, if this consumer is the interval's reaper. */
  overdueConsumers(intervalMs: number, limit: number): Promise<string[]> {
    return this.scripts.overdueConsumers(reaperGuardKey(this.service), intervalMs, limit);
  }

  /**
   * Touches every lock of an overdue consumer: Redis deletes those past their TTL at once and
   * publishes `expired`; the consumer's deadline moves to its next lock due. Resolves the number
   * of locks found gone.
   */
  touchLocksOf(consumer: string): Promise<number> {
    return this.scripts.touchLocks(consumer, consumerLocksKey(this.service, consumer));
  }

  /** True if this consumer runs the reconciler this interval (a guard key, SET NX PX). */
  async winReconcilerTurn(intervalMs: number): Promise<boolean> {
    return (await this.redis.set(reconcilerGuardKey(this.service), this.consumer, 'PX', intervalMs, 'NX')) === 'OK';
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

  /** The LBS entry with this id (null if deleted); lookups in the same event-loop turn share one pipeline. */
  entry(id: string): Promise<RawEntry | null> {
    return this.lookups.push(id);
  }

  /** XACK of pending entries whose LBS entry no longer exists (nothing to hand out). */
  async ackDangling(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.xack(this.lbs, this.group, ...ids);
  }

  /** Claims one entry whose lock is gone (see lua/claim-n.lua); claims in the same event-loop turn share one script call. */
  claim(lockKey: string, id: string, minIdle: number): Promise<ClaimResult> {
    return this.claims.push({ lockKey, id, minIdle });
  }

  /** Heartbeat of the given locks; remembers the epoch it saw. */
  async extendLocks(lockKeys: readonly string[]) {
    const { statuses, epoch } = await this.scripts.extendLocks(lockKeys, this.seenEpoch);
    if (epoch !== undefined) this.seenEpoch = epoch;
    return statuses;
  }

  /** Finishes one stream (see lua/finish-n.lua); calls in the same event-loop turn share one script call. */
  finish(lockKey: string, id: string, name: string): Promise<FinishResult> {
    return this.finishing.push({ lockKey, id, name });
  }

  releaseLock(lock: string) {
    return this.scripts.releaseLock(lock);
  }

  /**
   * Hands a lock back so that it expires now and every consumer hears `expired`: PEXPIRE 1 if
   * ours, then reads it (PTTL) until Redis finds it past its TTL, which makes Redis delete it at
   * once. Resolves false if the lock was not ours.
   */
  async expireLock(lock: string): Promise<boolean> {
    if (!(await this.scripts.expireLock(lock))) return false;
    for (let attempt = 0; attempt < EXPIRE_READS; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if ((await this.redis.pttl(lock)) < 0) break;
    }
    return true;
  }

  /**
   * XADD of one LBS entry (the producer side). The first time a connection adds to a service, it
   * makes sure the group exists first, so the entry cannot be skipped by a group created later at `$`.
   */
  static async add(redis: Redis, service: string, json: string): Promise<string> {
    const known = groupsEnsured.get(redis) ?? new Set<string>();
    if (!known.has(service)) {
      await ensureGroup(redis, lbsKey(service), groupName(service));
      known.add(service);
      groupsEnsured.set(redis, known);
    }
    return (await redis.xadd(lbsKey(service), '*', LBS_FIELD, json)) as string;
  }
}

/**
 * XGROUP CREATE <lbs> <group> 0 MKSTREAM; an existing group (BUSYGROUP) is fine. From id 0, not
 * `$`: entries a producer added before any consumer existed are handed out too, never skipped.
 * (Only the group's creator decides: a group made by a Go consumer starts at `$`.)
 */
export const ensureGroup = async (redis: Redis, lbs: string, group: string): Promise<void> => {
  try {
    await redis.xgroup('CREATE', lbs, group, '0', 'MKSTREAM');
  } catch (err) {
    if (!(err instanceof Error && err.message.startsWith('BUSYGROUP'))) throw err;
  }
};

const toEntries = (raw: XEntries): RawEntry[] =>
  raw.filter(([, fields]) => fields !== null).map(([id, fields]) => ({ id, fields }));
