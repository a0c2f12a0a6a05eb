/**
 * Where a data stream sits in the load-balancer stream (LBS): its name and the id of its LBS entry.
 * @example
 * const info: LbsInfo = { dataStreamName: 'session-42', idInLbs: '1700000000000-0' };
 * await redis.get(lockKey(info.dataStreamName, info.idInLbs)); // its owner
 */
export interface LbsInfo {
  readonly dataStreamName: string;
  readonly idInLbs: string;
}

/**
 * The `Info` object a producer attached to the LBS entry (`addStream(..., { info })`).
 * @example
 * addStream(redis, 'my-service', { dataStreamName: 'session-42', info: { user: 'u1' } satisfies AdditionalInfo }).subscribe();
 */
export type AdditionalInfo = Record<string, unknown>;

/**
 * A stream this consumer now owns, with its fencing token (see `EntryContext.fence`).
 * @example
 * client.init().pipe(ofType('StreamAdded')).subscribe(({ payload }: { payload: OwnedLbsInfo }) => console.log(payload.dataStreamName, payload.fence));
 */
export interface OwnedLbsInfo extends LbsInfo {
  /** Grows strictly every time a consumer of the service takes the stream; cleared by `doneStream`. */
  readonly fence: number;
}

/**
 * What `claim()` hands back: the stream now owned by this consumer and its `Info`.
 * @example
 * client.claim(expired.payload).subscribe((claimed: Claimed) => console.log('now mine:', claimed.payload.dataStreamName, claimed.additionalInfo));
 */
export interface Claimed {
  readonly payload: OwnedLbsInfo;
  readonly additionalInfo: AdditionalInfo;
}

/**
 * A new stream was handed to this consumer (fresh from the LBS, or recovered); this consumer owns it.
 * @example
 * client.init().pipe(ofType('StreamAdded')).subscribe((n: StreamAdded) => console.log('handed', n.payload.dataStreamName, n.additionalInfo));
 */
export interface StreamAdded {
  readonly type: 'StreamAdded';
  readonly payload: OwnedLbsInfo;
  readonly additionalInfo: AdditionalInfo;
}

/**
 * A stream of this service lost its owner (its lock expired); call `claim(payload)` to take it over.
 * @example
 * client.init().pipe(ofType('StreamExpired'), mergeMap((n: StreamExpired) => client.claim(n.payload).pipe(catchError(() => EMPTY)))).subscribe();
 */
export interface StreamExpired {
  readonly type: 'StreamExpired';
  readonly payload: LbsInfo;
  readonly additionalInfo?: AdditionalInfo;
}

/**
 * This consumer no longer owns the stream: stop working on it, and do not `doneStream` it. Either
 * its heartbeat found the lock held by another consumer (or the entry taken over), or Redis has not
 * confirmed the lock for longer than its TTL and the client assumed it lost without Redis.
 * @example
 * client.init().pipe(ofType('StreamDisowned')).subscribe((n: StreamDisowned) => console.log('stop working on', n.payload.dataStreamName));
 */
export interface StreamDisowned {
  readonly type: 'StreamDisowned';
  readonly payload: LbsInfo;
  readonly additionalInfo?: AdditionalInfo;
}

/**
 * This consumer handed the stream back to the fleet, unfinished, for balance (`reason`
 * 'rebalance': it held more than its fair share). Stop working on it and do not `doneStream` it:
 * another consumer takes it over within milliseconds. Sent before the lock is let go.
 * @example
 * client.init().pipe(ofType('StreamReleased')).subscribe((n: StreamReleased) => console.log('handed back for', n.reason, n.payload.dataStreamName));
 */
export interface StreamReleased {
  readonly type: 'StreamReleased';
  readonly payload: LbsInfo;
  readonly reason: 'rebalance';
  readonly additionalInfo?: AdditionalInfo;
}

/**
 * What `client.init()` emits: a stream handed to this consumer, a stream of the service that lost
 * its owner, a stream this consumer lost, or one it handed back for balance.
 *
 * ## Example
 * ```ts
 * client.init().subscribe((n: Notification) => {
 *   if (n.type === 'StreamExpired') client.claim(n.payload).subscribe({ error: () => undefined });
 * });
 * ```
 */
export type Notification = StreamAdded | StreamExpired | StreamDisowned | StreamReleased;

/**
 * The `type` of a notification, for `ofType(...)`.
 *
 * ## Example
 * ```ts
 * const wanted: NotificationType[] = ['StreamAdded', 'StreamDisowned'];
 * client.init().pipe(ofType(...wanted)).subscribe(console.log);
 * ```
 */
export type NotificationType = Notification['type'];

/**
 * This consumer won the claim of an expired stream (emitted by the `claimExpired` operator); it owns it now.
 * @example
 * client.init().pipe(claimExpired(client), ofType('StreamClaimed')).subscribe((n: StreamClaimed) => console.log('claimed', n.payload.dataStreamName));
 */
export interface StreamClaimed {
  readonly type: 'StreamClaimed';
  readonly payload: OwnedLbsInfo;
  readonly additionalInfo: AdditionalInfo;
}

/**
 * What flows after `claimExpired`: the client's notifications plus the claims this consumer won.
 * @example
 * const owned = (n: OwnershipNotification): boolean => n.type === 'StreamAdded' || n.type === 'StreamClaimed';
 * client.init().pipe(claimExpired(client), filter(owned)).subscribe();
 */
export type OwnershipNotification = Notification | StreamClaimed;

export type { Logger, MetricsRecorder } from './reporting';
import type { Logger, MetricsRecorder } from './reporting';

/**
 * Backoff of the LBS reader after a failed read.
 * @example
 * const retryReads: RetryOptions = { maxRetries: -1, initialDelay: 100, maxDelay: 5000 }; // never give up
 * new RedisStreamClient(redis, 'my-service', { consumerId: 'worker-1', retry: retryReads });
 */
export interface RetryOptions {
  /** Reads retried in a row before `notifications$` errors; -1 retries forever, 0 never. Default 5. */
  readonly maxRetries?: number;
  /** Delay before the first retry, in ms; doubled at each retry. Default 100. */
  readonly initialDelay?: number;
  /** Upper bound of the delay, in ms. Default 30000. */
  readonly maxDelay?: number;
}

/**
 * Options of `new RedisStreamClient(redis, service, options)`. All are validated at construction.
 * @example
 * const options: ClientOptions = { consumerId: process.env.POD_NAME, hbInterval: 2000, maxStreams: 100 };
 * new RedisStreamClient(redis, 'my-service', options);
 */
export interface ClientOptions {
  /** Consumer id; the consumer is named `redis-consumer-<id>`. Default: env `POD_NAME`, then `POD_IP`. */
  readonly consumerId?: string;
  /** Heartbeat interval = lock TTL, in ms; locks are extended every `hbInterval / 2`. Default 2000. */
  readonly hbInterval?: number;
  /** An LBS entry pending this long (ms) with no lock is recovered. Default 40000; must be >= 2 * hbInterval. */
  readonly lbsIdleTime?: number;
  /** Pending entries examined per recovery call. Default 1000. */
  readonly lbsRecoveryCount?: number;
  /** LBS entries read per XREADGROUP call. Default 10. */
  readonly readCount?: number;
  /**
   * How often the locks of overdue consumers (no heartbeat for a TTL) are touched so their
   * `expired` event goes out on time (one consumer of the service per interval does it), in ms.
   * Default min(100, hbInterval / 4).
   */
  readonly reapInterval?: number;
  /**
   * How often pending entries with no lock are taken over and keyspace notifications checked (one
   * consumer of the service per interval), in ms. Default hbInterval.
   */
  readonly reconcileInterval?: number;
  /** An LBS entry larger than this (bytes of its raw value) is dead-lettered. Default 1 MiB. */
  readonly maxEntryBytes?: number;
  /**
   * Most streams this consumer owns at once. At capacity it stops reading the LBS (new entries
   * wait there for consumers with room), `claim` fails with `AtCapacityError` and the sweeps skip.
   * Default: unlimited.
   */
  readonly maxStreams?: number;
  /**
   * Whether this consumer hands streams back when it holds more than its fair share of the fleet:
   * `'consumed'` (default) only streams a `consumeStream` reads, right after a commit, so nothing
   * is handled twice; `true` also the others (`StreamReleased` tells the application to stop
   * working on them; `processStreams` reports `Rebalanced`); `false` never, and claims take no
   * account of load.
   */
  readonly rebalance?: boolean | 'consumed';
  /** Most streams handed back per heartbeat tick (every hbInterval / 2) while rebalancing. Default 500. */
  readonly rebalanceBatch?: number;
  /** Backoff of the LBS reader. */
  readonly retry?: RetryOptions;
  /** Replace `notify-keyspace-events` with `Kx` instead of adding `K` and `x` to the flags already set. */
  readonly forceConfigOverride?: boolean;
  /**
   * Key naming: `go` (the Go wire format, the default on one node) or `tagged` (every key of a
   * partition under the hash tag `{<service>:<partition>}`: one ACL key pattern per service; the
   * only layout on a Cluster). Producers (`addStream`) must use the same.
   */
  readonly keyLayout?: 'go' | 'tagged';
  /**
   * LBS partitions of a tagged service, each in its own Cluster slot, so the service spreads over
   * every primary. Default 3 on a Cluster, 1 on one node; fixed for the life of the service (it is
   * stored in Redis: a different count is refused with `PartitionCountError`). Only with `tagged`.
   */
  readonly partitions?: number;
  readonly logger?: Logger;
  readonly metrics?: MetricsRecorder;
}

/**
 * Options after validation, with every default filled in.
 * @example
 * // The options with every default filled in, as the client uses them.
 * const ttl = (o: ResolvedOptions): number => o.hbInterval; // 2000 unless given
 */
export interface ResolvedOptions {
  readonly consumerId: string;
  readonly hbInterval: number;
  readonly lbsIdleTime: number;
  readonly lbsRecoveryCount: number;
  readonly readCount: number;
  readonly reapInterval: number;
  readonly reconcileInterval: number;
  readonly maxEntryBytes: number;
  /** Infinity when unlimited. */
  readonly maxStreams: number;
  readonly rebalance: boolean | 'consumed';
  readonly rebalanceBatch: number;
  readonly retry: Required<RetryOptions>;
  readonly forceConfigOverride: boolean;
  /** Undefined: decided by the connection (tagged on a Cluster, go on one node). */
  readonly keyLayout: 'go' | 'tagged' | undefined;
  /** Undefined: the default of the connection (3 on a Cluster, 1 on one node). */
  readonly partitions: number | undefined;
  readonly logger: Logger;
  readonly metrics: MetricsRecorder;
}

/**
 * What a producer puts in the LBS with `addStream`.
 * @example
 * const input: StreamInput = { dataStreamName: 'session-42', info: { user: 'u1' } };
 * await lastValueFrom(addStream(redis, 'my-service', input)); // the LBS entry id
 */
export interface StreamInput {
  readonly dataStreamName: string;
  readonly info?: AdditionalInfo;
}

/**
 * How `addStream` names the service's keys: as its consumers do (`ClientOptions.keyLayout`, `partitions`).
 * @example
 * const options: ProducerOptions = { replicas: 1, replicaTimeoutMs: 500 };
 * await lastValueFrom(addStream(redis, 'my-service', { dataStreamName: 'session-42' }, options));
 */
export interface ProducerOptions {
  readonly keyLayout?: 'go' | 'tagged';
  readonly partitions?: number;
  /**
   * Replicas that must hold the entry before `addStream` emits (WAIT, on the same connection as
   * the XADD). Redis replicates asynchronously: an entry a primary acknowledged and then lost in a
   * failover (killed before replicating, or stalled past the node timeout and demoted) is gone.
   * With `replicas`, such an add errors with `NotReplicatedError` instead: add it again. Default 0.
   */
  readonly replicas?: number;
  /** How long to wait for `replicas`, ms. Default 1000. */
  readonly replicaTimeoutMs?: number;
}
