import type { Cluster, Redis } from 'ioredis';
import { Observable, defer } from 'rxjs';
import { randomUUID } from 'node:crypto';
import type { BadEntry, RawEntry } from '../codecs/lbs-message';
import type { ServiceKeys } from '../keys';
import type { ClaimResult, CommitResult, FinishResult, LbsPort, LbsSession, MemberInput, NewEntry, PendingEntry } from '../port';
import { Batcher } from './batcher';
import { RedisConnection, RedisSession, asIoredis, isCluster } from './connections';
import { configValue, ensureGroup, toEntries, XEntries } from './replies';
import { KEYS_PER_CALL, Scripts } from './scripts';
import { RedisEntryPort } from './entry-store';
import { isSlotMoveError } from '../rules/slot-move';

/** Calls of one batched command (claims, entry reads, lock reads) a port has in flight at most: one running in Redis while the client reads the previous answer. */
const CALLS_IN_FLIGHT = 2;

/**
 * `LbsPort` on ioredis: every Redis command the client sends, for one service and one consumer.
 * The rest of the library talks to Redis only through this class.
 */
export class RedisPort implements LbsPort {
  private readonly scripts: Scripts;
  /** `finish` calls made in the same turn of the event loop go to Redis as one script call. */
  private readonly finishing: Batcher<{ readonly lockKey: string; readonly id: string; readonly name: string }, FinishResult>;
  /** `claim` calls made in the same turn of the event loop go to Redis as one script call. */
  private readonly claims: Batcher<{ readonly lockKey: string; readonly id: string; readonly minIdle: number; readonly name: string }, ClaimResult>;
  /** `entry` lookups made in the same turn of the event loop go to Redis as one pipeline. */
  private readonly lookups: Batcher<string, RawEntry | null>;
  /** `touchLock` reads made in the same turn of the event loop go to Redis as one script call. */
  private readonly touches: Batcher<string, number>;

  private readonly redis: Redis | Cluster;

  constructor(connection: RedisConnection, private readonly keys: ServiceKeys, readonly consumer: string, ttl: number) {
    const redis = asIoredis(connection);
    this.redis = redis;
    this.scripts = new Scripts(redis, {
      lbs: keys.lbs,
      group: keys.group,
      deadlines: keys.deadlines,
      names: keys.names,
      epoch: keys.epoch,
      owner: consumer,
      ownLocks: keys.locksOf(consumer),
      members: keys.members,
      ttl,
    });
    this.finishing = new Batcher((entries) => this.scripts.finish(entries), KEYS_PER_CALL);
    // The floods of a mass failover (an entry read and a claim per expiry heard, reads of locks
    // held back) go CALLS_IN_FLIGHT calls at a time, so the heartbeat never queues behind them.
    this.lookups = new Batcher((ids) => this.readEntries(ids), KEYS_PER_CALL, setImmediate, CALLS_IN_FLIGHT);
    this.claims = new Batcher((entries) => this.scripts.claim(entries), KEYS_PER_CALL, setImmediate, CALLS_IN_FLIGHT);
    this.touches = new Batcher((lockKeys) => this.readTtls(lockKeys), KEYS_PER_CALL, setImmediate, CALLS_IN_FLIGHT);
  }

  getConfig(name: string): Observable<string> {
    return defer(async () => configValue(await this.redis.config('GET', name), name));
  }

  setConfig(name: string, value: string): Observable<void> {
    return defer(async () => void (await this.redis.config('SET', name, value)));
  }

  createGroup(): Observable<string> {
    return defer(async () => {
      await ensureGroup(this.redis, this.keys.lbs, this.keys.group);
      await this.redis.set(this.keys.epoch, randomUUID(), 'NX');
      return (await this.redis.get(this.keys.epoch)) ?? '';
    });
  }

  takeLocks(entries: readonly NewEntry[]) {
    return defer(() => (entries.length === 0 ? Promise.resolve([]) : this.scripts.takeLocks(entries)));
  }

  claim(lockKey: string, id: string, minIdle: number, name: string) {
    return this.claims.observe({ lockKey, id, minIdle, name });
  }

  extendLocks(lockKeys: readonly string[], seenEpoch: string, fences?: readonly number[], member?: MemberInput, partial?: boolean) {
    return defer(() => this.scripts.extendLocks(lockKeys, seenEpoch, fences, member, partial));
  }

  /** Each lock extended alone (the heartbeat's fallback while a Cluster moves this partition's slot); undefined for a lock gone. */
  extendEach(lockKeys: readonly string[]) {
    return defer(() => this.scripts.extendEach(lockKeys));
  }

  finish(lockKey: string, id: string, name: string) {
    return this.finishing.observe({ lockKey, id, name });
  }

  expireLock(lockKey: string, inMs = 0) {
    return defer(() => this.scripts.expireLock(lockKey, inMs));
  }

  touchLock(lockKey: string) {
    return this.touches.observe(lockKey);
  }

  deadLetter(bad: readonly BadEntry[]): Observable<void> {
    return defer(async () => {
      if (bad.length === 0) return;
      const multi = this.redis.multi();
      for (const { entry, reason } of bad) {
        multi.xadd(this.keys.dead, '*', 'source-id', entry.id, 'reason', reason, 'consumer', this.consumer, ...entry.fields);
        multi.xack(this.keys.lbs, this.keys.group, entry.id);
        multi.xdel(this.keys.lbs, entry.id);
      }
      await multi.exec();
    });
  }

  entry(id: string) {
    return this.lookups.observe(id);
  }

  entries(ids: readonly string[]) {
    return defer(() => this.readEntries(ids));
  }

  pending(minIdleMs: number, start: string, count: number): Observable<PendingEntry[]> {
    return defer(async () => {
      const rows = (await this.redis.xpending(this.keys.lbs, this.keys.group, 'IDLE', minIdleMs, start, '+', count)) as [string, string, number, number][];
      return rows.map(([id, consumer, idleMs]) => ({ id, consumer, idleMs }));
    });
  }

  ackDangling(ids: readonly string[]): Observable<void> {
    return defer(async () => {
      if (ids.length > 0) await this.redis.xack(this.keys.lbs, this.keys.group, ...ids);
    });
  }

  overdueConsumers(intervalMs: number, limit: number) {
    return defer(() => this.scripts.overdueConsumers(this.keys.reaperGuard, intervalMs, limit));
  }

  touchLocksOf(consumer: string) {
    return defer(() => this.scripts.touchLocks(consumer, this.keys.locksOf(consumer)));
  }

  leave() {
    return defer(() => this.scripts.leave());
  }

  winReconcilerTurn(intervalMs: number) {
    return defer(async () => (await this.redis.set(this.keys.reconcilerGuard, this.consumer, 'PX', intervalMs, 'NX')) === 'OK');
  }

  /** The entry engine's port: its own reader connection (opened at the first read), commits through this port's scripts. */
  entryPort(blockMs: number): RedisEntryPort {
    return new RedisEntryPort(this.redis, (items) => this.commitPositions(items), this.keys.dead, blockMs);
  }

  /** Commits each stream's position while this consumer holds its lock (see lua/commit-n.lua). */
  commitPositions(items: readonly { readonly lockKey: string; readonly position: string }[]): Promise<CommitResult[]> {
    return this.scripts.commit(items);
  }

  /** The Go layout's session (a blocking reader and one subscriber); tagged services use `TaggedSession`. */
  openSession(onError: (role: string, err: unknown) => void): LbsSession {
    if (isCluster(this.redis)) throw new Error('RedisPort.openSession: a Cluster needs the tagged layout (TaggedSession)');
    return new RedisSession(this.redis, this.keys, this.consumer, onError);
  }

  /**
   * One script call (a pipeline costs the client a command per lock: ten times the CPU for 1000
   * locks); while a Cluster moves the locks' slot, which refuses a call whose keys are split
   * between two nodes (TRYAGAIN), one command per lock, each following its own redirection.
   */
  private async readTtls(lockKeys: readonly string[]): Promise<number[]> {
    try {
      return await this.scripts.ttls(lockKeys);
    } catch (err) {
      if (!isSlotMoveError(err)) throw err;
    }
    const pipeline = this.redis.pipeline();
    for (const lockKey of lockKeys) pipeline.pttl(lockKey);
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, ttl]) => {
      if (err !== null) throw err;
      return ttl as number;
    });
  }

  private async readEntries(ids: readonly string[]): Promise<(RawEntry | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.xrange(this.keys.lbs, id, id);
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => {
      if (err !== null) throw err;
      return toEntries(reply as XEntries)[0] ?? null;
    });
  }
}
