import type { Cluster, Redis } from 'ioredis';
import { NEVER, Observable, catchError, concatMap, defer, forkJoin, from, lastValueFrom, map, of, race, timeout, timer } from 'rxjs';
import type { BadEntry } from '../codecs/lbs-message';
import type { Layout } from '../layout';
import { CommitResult, Extension as ExtendResult, LbsPort, LbsSession, LockStatus, MemberInput, NewEntry, TakeResult } from '../port';
import { mergeKeyspaceFlags } from '../rules/keyspace-flags';
import { isCluster } from './connections';
import { ensurePartitionCount } from './partition-count';
import { isSlotMoving } from './slot-moves';
import { RedisPort } from './store';
import { RedisEntryPort } from './entry-store';
import { TaggedSession } from './tagged-session';

/** The epochs of every partition in one string (the ledger keeps one): space-separated, in partition order. */
const splitEpochs = (joined: string, partitions: number): string[] => {
  const parts = joined.split(' ');
  return Array.from({ length: partitions }, (_, p) => parts[p] ?? '');
};

/** Groups `items` by partition, keeping each one's index, so that results go back in order. */
const byPartition = <T>(items: readonly T[], partitionOf: (item: T) => number): Map<number, { items: T[]; at: number[] }> => {
  const groups = new Map<number, { items: T[]; at: number[] }>();
  items.forEach((item, i) => {
    const p = partitionOf(item);
    let group = groups.get(p);
    if (group === undefined) groups.set(p, (group = { items: [], at: [] }));
    group.items.push(item);
    group.at.push(i);
  });
  return groups;
};

/**
 * `LbsPort` of a tagged service: one `RedisPort` per partition (each script's keys under one hash
 * tag, so in one Cluster slot), and this port in front of them for what is not bound to one
 * partition: the heartbeat's extension (split by the partition of each lock key, one epoch per
 * partition), the lease commands (routed by lock key), the configuration (on every node of a
 * Cluster), the groups and the partition count. The sources of one partition use its own port
 * (`partition(p)`); the methods that name an LBS entry by id alone belong to them.
 */
export class PartitionedPort implements LbsPort {
  readonly consumer: string;
  private readonly ports: readonly RedisPort[];

  /** How long one partition's extension may take before its locks count as unanswered: three quarters of the TTL, so the others' answers arrive before the heartbeat gives up on the whole call (one TTL). */
  private readonly partitionTimeoutMs: number;

  constructor(private readonly redis: Redis | Cluster, private readonly service: string, private readonly layout: Layout, consumer: string, ttl: number) {
    this.consumer = consumer;
    this.partitionTimeoutMs = (3 * ttl) / 4;
    this.ports = Array.from({ length: layout.partitions }, (_, p) => new RedisPort(redis, layout.keysOf(p), consumer, ttl));
  }

  partition(p: number): LbsPort {
    return this.ports[p]!;
  }

  private portOfLock(lockKey: string): RedisPort {
    const p = this.layout.partitionOfKey(lockKey);
    if (p === undefined || p >= this.ports.length) throw new Error(`not a lock key of this service: ${lockKey}`);
    return this.ports[p]!;
  }

  /** The nodes configuration applies to: every node of a Cluster (a replica may be promoted), known once it is ready; or the one node. */
  private async nodes(): Promise<Redis[]> {
    const redis = this.redis;
    if (!isCluster(redis)) return [redis];
    // A command waits for the Cluster to connect and load its slots (or fails, as any command would).
    if (redis.status !== 'ready') await redis.ping();
    return redis.nodes('all');
  }

  /** The value on every node when they agree, else '' (so the caller sets it, and `setConfig` merges per node). */
  getConfig(name: string): Observable<string> {
    return defer(async () => {
      const values = await Promise.all((await this.nodes()).map(async (n) => ((await n.config('GET', name)) as string[])[1] ?? ''));
      return values.every((v) => v === values[0]) ? (values[0] ?? '') : '';
    });
  }

  /** CONFIG SET on every node; `notify-keyspace-events` is merged with each node's own flags. */
  setConfig(name: string, value: string): Observable<void> {
    return defer(async () => {
      await Promise.all(
        (await this.nodes()).map(async (n) => {
          const wanted = name === 'notify-keyspace-events' ? mergeKeyspaceFlags(((await n.config('GET', name)) as string[])[1] ?? '', value) : value;
          await n.config('SET', name, wanted);
        }),
      );
    });
  }

  /** Checks the partition count, then creates every partition's group and epoch; emits the epochs of all partitions. */
  createGroup(): Observable<string> {
    return defer(async () => {
      await ensurePartitionCount(this.redis, this.service, this.layout.partitions);
      const epochs = await Promise.all(this.ports.map((port) => lastValueFrom(port.createGroup())));
      return epochs.join(' ');
    });
  }

  takeLocks(entries: readonly NewEntry[]): Observable<readonly TakeResult[]> {
    return this.scatter(entries, (e) => e.lockKey, (port, part) => port.takeLocks(part));
  }

  claim(lockKey: string, idInLbs: string, minIdleMs: number, name: string) {
    return defer(() => this.portOfLock(lockKey).claim(lockKey, idInLbs, minIdleMs, name));
  }

  /**
   * One extension call per partition holding some of `lockKeys` (each with its own epoch, and the
   * fences of its locks). The member record goes to partition 0 (the service's one membership
   * registry, `keysOf(0).members`), called even when it holds none of the locks, and the registry
   * and the Redis clock come back from there.
   */
  extendLocks(lockKeys: readonly string[], seenEpoch: string, fences: readonly number[] = [], member?: MemberInput, partial = false): Observable<ExtendResult> {
    return defer(() => {
      const seen = splitEpochs(seenEpoch, this.ports.length);
      const epochs = [...seen];
      const groups = byPartition(lockKeys, (key) => this.layout.partitionOfKey(key) ?? 0);
      if (member !== undefined && !groups.has(0)) groups.set(0, { items: [], at: [] });
      const statuses: (LockStatus | undefined)[] = new Array(lockKeys.length);
      const newFences: (number | undefined)[] = new Array(lockKeys.length);
      let registry: Pick<ExtendResult, 'members' | 'now'> = {};
      const failed: unknown[] = [];
      // A partition whose node fails (or does not answer in time) leaves its locks unanswered
      // (undefined) and the others go on: one primary's failover must not stop the heartbeat of
      // the locks on the other primaries.
      const calls = [...groups].map(([p, { items, at }]) =>
        this.extendPartition(p, items, seen[p]!, at.map((i) => fences[i] ?? 0), p === 0 ? member : undefined, partial).pipe(
          map(({ statuses: found, fences: taken, epoch, members, now }) => {
            found.forEach((status, i) => (statuses[at[i]!] = status));
            taken?.forEach((fence, i) => (newFences[at[i]!] = fence));
            if (epoch !== undefined) epochs[p] = epoch;
            if (p === 0) registry = { members, now };
          }),
          timeout({ first: this.partitionTimeoutMs }),
          catchError((err: unknown) => {
            failed.push(err);
            return of(undefined);
          }),
        ),
      );
      return (calls.length === 0 ? of([]) : forkJoin(calls)).pipe(
        map(() => {
          if (failed.length === calls.length && calls.length > 0) throw failed[0];
          return { statuses, fences: newFences, epoch: epochs.join(' '), ...registry };
        }),
      );
    });
  }

  /**
   * One partition's extension. On a Cluster, a call not answered within a quarter of the TTL may
   * be one the partition's primary refuses with TRYAGAIN while it moves the slot key by key
   * (ioredis retries it, 16 times 100 ms apart by default, past the partition's time): if that
   * primary says the slot is moving, each lock is extended alone meanwhile (a call on one key is
   * redirected to wherever the key is) and the first answer wins. That fallback neither re-takes
   * vanished locks nor writes the member record; the batch call does once the slot has moved.
   */
  private extendPartition(p: number, lockKeys: readonly string[], seenEpoch: string, fences: readonly number[], member: MemberInput | undefined, partial: boolean): Observable<ExtendResult> {
    const port = this.ports[p]!;
    const batch$ = port.extendLocks(lockKeys, seenEpoch, fences, member, partial);
    const redis = this.redis;
    if (!isCluster(redis) || lockKeys.length === 0) return batch$;
    const oneByOne$ = timer(this.partitionTimeoutMs / 3).pipe(
      concatMap(() => isSlotMoving(redis, this.layout.keysOf(p).lbs)),
      concatMap((moving) => (moving ? port.extendEach(lockKeys) : NEVER)),
      map((statuses): ExtendResult => ({ statuses, epoch: seenEpoch === '' ? undefined : seenEpoch })),
      catchError(() => NEVER),
    );
    return race(batch$, oneByOne$);
  }

  finish(lockKey: string, idInLbs: string, dataStreamName: string) {
    return defer(() => this.portOfLock(lockKey).finish(lockKey, idInLbs, dataStreamName));
  }

  expireLock(lockKey: string, inMs = 0) {
    return defer(() => this.portOfLock(lockKey).expireLock(lockKey, inMs));
  }

  touchLock(lockKey: string) {
    return defer(() => this.portOfLock(lockKey).touchLock(lockKey));
  }

  /** The entry engine's port: reads through the Cluster (or the one node), commits by partition (each partition's locks share a slot). */
  entryPort(blockMs: number): RedisEntryPort {
    const commit = async (items: readonly { readonly lockKey: string; readonly position: string }[]): Promise<CommitResult[]> => [
      ...(await lastValueFrom(this.scatter(items, (e) => e.lockKey, (port, part) => from(port.commitPositions(part))))),
    ];
    return new RedisEntryPort(this.redis, commit, this.layout.keysOf(0).dead, blockMs);
  }

  /** This consumer leaves the reaper's deadlines and its lock set in every partition; false if it still holds locks in one. */
  leave(): Observable<boolean> {
    return forkJoin(this.ports.map((port) => port.leave())).pipe(map((left) => left.every(Boolean)));
  }

  deadLetter(bad: readonly BadEntry[]): Observable<void> {
    return this.onePartition('deadLetter').deadLetter(bad);
  }

  entry(id: string) {
    return this.onePartition('entry').entry(id);
  }

  entries(ids: readonly string[]) {
    return this.onePartition('entries').entries(ids);
  }

  pending(minIdleMs: number, start: string, count: number) {
    return this.onePartition('pending').pending(minIdleMs, start, count);
  }

  ackDangling(ids: readonly string[]) {
    return this.onePartition('ackDangling').ackDangling(ids);
  }

  overdueConsumers(intervalMs: number, limit: number) {
    return this.onePartition('overdueConsumers').overdueConsumers(intervalMs, limit);
  }

  touchLocksOf(consumer: string) {
    return this.onePartition('touchLocksOf').touchLocksOf(consumer);
  }

  winReconcilerTurn(intervalMs: number) {
    return this.onePartition('winReconcilerTurn').winReconcilerTurn(intervalMs);
  }

  openSession(onError: (role: string, err: unknown) => void): TaggedSession & LbsSession {
    return new TaggedSession(this.redis, this.service, this.layout, this.consumer, onError);
  }

  /** The port of the only partition; a method that names an entry by id alone cannot choose among several. */
  private onePartition(method: string): RedisPort {
    if (this.ports.length !== 1) throw new Error(`PartitionedPort.${method} needs a partition: use partition(p)`);
    return this.ports[0]!;
  }

  /** Runs `call` on each partition's share of `items` (all at once) and puts the results back in the items' order. */
  private scatter<T, R>(items: readonly T[], keyOf: (item: T) => string, call: (port: RedisPort, part: readonly T[]) => Observable<readonly R[]>): Observable<readonly R[]> {
    return defer(() => {
      const groups = byPartition(items, (item) => this.layout.partitionOfKey(keyOf(item)) ?? 0);
      const results: R[] = new Array(items.length);
      const calls = [...groups].map(([p, { items: part, at }]) => call(this.ports[p]!, part).pipe(map((found) => found.forEach((r, i) => (results[at[i]!] = r)))));
      return (calls.length === 0 ? of([]) : forkJoin(calls)).pipe(map(() => results));
    });
  }
}
