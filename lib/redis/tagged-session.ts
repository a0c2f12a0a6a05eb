import type Redis from 'ioredis';
import { Observable, Subject, catchError, defer, filter, from, map, of, race, switchMap, take, tap, timer } from 'rxjs';
import type { RawEntry } from '../codecs/lbs-message';
import { keyspacePrefix, taggedKeyspacePattern } from '../keys';
import type { Layout } from '../layout';
import type { LbsSession } from '../port';
import { RedisConnection, dbOf, isCluster } from './connections';
import { XEntries, classifyReplyError, toEntries } from './replies';

/** How long a consumer lets the others read first after a woken read that got entries, ms per recent win (at most WAKE_YIELD_MAX_MS). */
const WAKE_YIELD_MS = 3;
const WAKE_YIELD_MAX_MS = 12;

/** A keyspace event of one key of the service. */
interface KeyEvent {
  readonly partition: number;
  readonly key: string;
}

const closeQuietly = (conn: Redis): void => {
  conn.removeAllListeners('error');
  conn.on('error', () => undefined);
  conn.disconnect(false);
};

/** `host:port` of a node connection. */
const addressOf = (node: Redis): string => `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`;

/**
 * The session of a tagged service (one node or a Cluster): no blocked connection at all.
 *
 * - **Keyspace events from every node.** Keyspace notifications are local to the node that holds
 *   the key, so it keeps one subscriber per node the Cluster knows (primaries, and the replicas
 *   CLUSTER SLOTS lists), PSUBSCRIBEd to `__keyspace@<db>__:{<service>:*`.
 *   It follows the topology: at every `+node` and `-node` of the Cluster (ioredis refreshes its
 *   slots on MOVED, on a lost node and every `slotsRefreshInterval`) the subscribers are compared
 *   with the Cluster's nodes: a new node gets one, a node gone loses it. Replicas publish no
 *   `expired` (they receive a DEL), so an expiry is heard once. Expiries a node published while
 *   its subscriber was (re)connecting are lost, as on one node: the reaper and the reconciler of
 *   every partition find those locks.
 * - **Reads woken by `xadd` events.** Each partition's reader reads without BLOCK on the command
 *   connection; when it finds nothing it waits for the `xadd` event of its LBS (or `blockMs`, the
 *   backstop for an event lost in a reconnection) and reads again. XREADGROUP over several keys
 *   needs them in one slot, so one blocking read per partition would need one connection per
 *   partition; this needs none, whatever the partition count. It needs the `t` class of
 *   `notify-keyspace-events` (the client sets `Kxt`).
 */
export class TaggedSession implements LbsSession {
  private readonly subscribers = new Map<string, Redis>();
  private readonly events$ = new Subject<KeyEvent & { readonly event: string }>();
  /** Bumped at every `xadd` event of a partition's LBS: a read that began before it may have missed an entry. */
  private readonly woken: number[];
  /** Recent woken reads of each partition that got entries (+1 a win, halved a loss). */
  private readonly wins: number[];
  private readonly pattern: string;
  private readonly prefix: string;
  private readonly onTopology = (): void => void this.resync().catch((err: unknown) => this.onError('subscriber', err));
  private closed = false;
  readonly expiredLockKeys$: Observable<string>;

  constructor(
    private readonly redis: RedisConnection,
    service: string,
    private readonly layout: Layout,
    private readonly consumer: string,
    private readonly onError: (role: string, err: unknown) => void,
  ) {
    const db = dbOf(redis);
    this.pattern = taggedKeyspacePattern(service, db);
    this.prefix = keyspacePrefix(db);
    this.woken = new Array(layout.partitions).fill(0);
    this.wins = new Array(layout.partitions).fill(0);
    this.expiredLockKeys$ = this.events$.pipe(
      filter((e) => e.event === 'expired' && layout.parseLockKey(e.key) !== undefined),
      map((e) => e.key),
    );
  }

  /** The session of one partition: its reads, and the expiries of its locks. */
  partition(p: number): LbsSession {
    return {
      openReader: () => of(undefined),
      readNew: (count, blockMs) => this.readNew(count, blockMs, p),
      expiredLockKeys$: this.events$.pipe(
        filter((e) => e.partition === p && e.event === 'expired' && this.layout.parseLockKey(e.key) !== undefined),
        map((e) => e.key),
      ),
      unsubscribe: () => undefined,
    };
  }

  /** Subscribes on every node and starts following the topology; errors if a subscription is refused. */
  openReader(): Observable<void> {
    return defer(async () => {
      if (isCluster(this.redis)) {
        this.redis.on('+node', this.onTopology);
        this.redis.on('-node', this.onTopology);
      }
      await this.resync();
    });
  }

  /** Subscribers for the nodes that have none, and none for the nodes gone. */
  async resync(): Promise<void> {
    if (this.closed) return;
    const nodes = isCluster(this.redis) ? this.redis.nodes('all') : [this.redis];
    const wanted = new Map(nodes.map((n) => [addressOf(n), n] as const));
    for (const [address, sub] of this.subscribers) {
      if (!wanted.has(address)) {
        this.subscribers.delete(address);
        closeQuietly(sub);
      }
    }
    const added: Promise<unknown>[] = [];
    for (const [address, node] of wanted) {
      if (this.subscribers.has(address)) continue;
      const sub = node.duplicate({ lazyConnect: true, enableOfflineQueue: true, readOnly: false, connectionName: 'rscrx-subscriber' });
      sub.on('error', (err: unknown) => this.onError('subscriber', err));
      sub.on('pmessage', (matched: string, channel: string, message: string) => this.onMessage(matched, channel, message));
      this.subscribers.set(address, sub);
      // A refusal (NOPERM...) ends the session; a connection lost or closed here does not: ioredis
      // subscribes again when it reconnects, and a node removed meanwhile lost its subscriber.
      added.push(sub.psubscribe(this.pattern).catch((err: unknown) => {
        if (err instanceof Error && err.name === 'ReplyError') throw err;
        this.onError('subscriber', err);
      }));
    }
    await Promise.all(added);
  }

  private onMessage(matched: string, channel: string, event: string): void {
    if (matched !== this.pattern) return;
    const key = channel.slice(this.prefix.length);
    const partition = this.layout.partitionOfKey(key);
    if (partition === undefined || partition >= this.layout.partitions) return;
    if (event === 'xadd') {
      if (key === this.layout.keysOf(partition).lbs) this.woken[partition]!++;
    }
    this.events$.next({ partition, key, event });
  }

  /** XREADGROUP without BLOCK of partition `p`; when empty, again once its LBS gets an entry (or after `blockMs`). */
  readNew(count: number, blockMs: number, p = 0): Observable<readonly RawEntry[]> {
    const read = (): Observable<readonly RawEntry[]> => {
      const { group, lbs } = this.layout.keysOf(p);
      return from(this.redis.xreadgroup('GROUP', group, this.consumer, 'COUNT', count, 'STREAMS', lbs, '>') as Promise<[string, XEntries][] | null>).pipe(
        map((reply) => (reply === null ? [] : toEntries(reply[0]?.[1] ?? []))),
      );
    };
    const woken$ = this.events$.pipe(filter((e) => e.partition === p && e.event === 'xadd'));
    // A consumer that got entries at its recent woken reads of the partition waits before the next
    // (WAKE_YIELD_MS per recent win, halved at every loss), so that the consumers that got nothing
    // read first, also the ones Redis tells last: the hand-out stays round-robin.
    const afterWake = (): Observable<readonly RawEntry[]> => {
      const delay = Math.min(WAKE_YIELD_MAX_MS, WAKE_YIELD_MS * this.wins[p]!);
      return (delay >= 1 ? timer(delay).pipe(switchMap(read)) : read()).pipe(tap((entries) => (this.wins[p] = entries.length > 0 ? this.wins[p]! + 1 : this.wins[p]! / 2)));
    };
    return defer(() => {
      const seen = this.woken[p];
      return read().pipe(
        switchMap((entries) =>
          entries.length > 0 || this.woken[p] !== seen ? of(entries) : race(woken$.pipe(take(1)), timer(blockMs)).pipe(switchMap(afterWake)),
        ),
      );
    }).pipe(catchError(classifyReplyError));
  }

  unsubscribe(): void {
    this.closed = true;
    if (isCluster(this.redis)) {
      this.redis.off('+node', this.onTopology);
      this.redis.off('-node', this.onTopology);
    }
    for (const sub of this.subscribers.values()) closeQuietly(sub);
    this.subscribers.clear();
    this.events$.complete();
  }
}
