/** Where a data stream sits in the load-balancer stream (LBS): its name and the id of its LBS entry. */
export interface LbsInfo {
  readonly dataStreamName: string;
  readonly idInLbs: string;
}

/** The `Info` object a producer attached to the LBS entry (`addStream(..., { info })`). */
export type AdditionalInfo = Record<string, unknown>;

/** What `claim()` hands back: the stream now owned by this consumer and its `Info`. */
export interface Claimed {
  readonly payload: LbsInfo;
  readonly additionalInfo: AdditionalInfo;
}

/** A new stream was handed to this consumer (fresh from the LBS, or recovered); this consumer owns it. */
export interface StreamAdded {
  readonly type: 'StreamAdded';
  readonly payload: LbsInfo;
  readonly additionalInfo: AdditionalInfo;
}

/** A stream of this service lost its owner (its lock expired); call `claim(payload)` to take it over. */
export interface StreamExpired {
  readonly type: 'StreamExpired';
  readonly payload: LbsInfo;
  readonly additionalInfo?: AdditionalInfo;
}

/**
 * This consumer no longer owns the stream: stop working on it, and do not `doneStream` it. Either
 * its heartbeat found the lock held by another consumer (or the entry taken over), or Redis has not
 * confirmed the lock for longer than its TTL and the client assumed it lost without Redis.
 */
export interface StreamDisowned {
  readonly type: 'StreamDisowned';
  readonly payload: LbsInfo;
  readonly additionalInfo?: AdditionalInfo;
}

export type Notification = StreamAdded | StreamExpired | StreamDisowned;
export type NotificationType = Notification['type'];

/** This consumer won the claim of an expired stream (emitted by the `claimExpired` operator); it owns it now. */
export interface StreamClaimed {
  readonly type: 'StreamClaimed';
  readonly payload: LbsInfo;
  readonly additionalInfo: AdditionalInfo;
}

/** What flows after `claimExpired`: the client's notifications plus the claims this consumer won. */
export type OwnershipNotification = Notification | StreamClaimed;

/** The subset of a pino logger the client writes to. Every method is called as `(object, message)`. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Metrics events, one method per event of the Go library's `metrics.Recorder` (durations in ms),
 * plus `recordDeadLetter` for LBS entries that could not be decoded. Every method is optional.
 */
export interface MetricsRecorder {
  recordStartupRecovery?(success: boolean, unackedCount: number, durationMs: number): void;
  recordClaimAttempt?(streamName: string, success: boolean, durationMs: number): void;
  recordLockAcquisitionAttempt?(streamName: string, success: boolean, durationMs: number): void;
  recordLockExtensionAttempt?(streamName: string, success: boolean): void;
  recordLockReleaseAttempt?(streamName: string, success: boolean): void;
  recordStreamProcessingStart?(streamName: string, startTime: Date): void;
  recordStreamProcessingEnd?(streamName: string, startTime: Date): void;
  recordKspNotification?(streamName: string): void;
  recordKspNotificationDropped?(): void;
  recordDeadLetter?(reason: string): void;
}

/** Backoff of the LBS reader after a failed read. */
export interface RetryOptions {
  /** Reads retried in a row before `notifications$` errors; -1 retries forever, 0 never. Default 5. */
  readonly maxRetries?: number;
  /** Delay before the first retry, in ms; doubled at each retry. Default 100. */
  readonly initialDelay?: number;
  /** Upper bound of the delay, in ms. Default 30000. */
  readonly maxDelay?: number;
}

/** Options of `new RedisStreamClient(redis, service, options)`. All are validated at construction. */
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

/** Options after validation, with every default filled in. */
export interface ResolvedOptions {
  readonly consumerId: string;
  readonly hbInterval: number;
  readonly lbsIdleTime: number;
  readonly lbsRecoveryCount: number;
  readonly readCount: number;
  readonly reapInterval: number;
  readonly reconcileInterval: number;
  readonly maxEntryBytes: number;
  readonly retry: Required<RetryOptions>;
  readonly forceConfigOverride: boolean;
  /** Undefined: decided by the connection (tagged on a Cluster, go on one node). */
  readonly keyLayout: 'go' | 'tagged' | undefined;
  /** Undefined: the default of the connection (3 on a Cluster, 1 on one node). */
  readonly partitions: number | undefined;
  readonly logger: Logger;
  readonly metrics: MetricsRecorder;
}

/** What a producer puts in the LBS with `addStream`. */
export interface StreamInput {
  readonly dataStreamName: string;
  readonly info?: AdditionalInfo;
}

/** How `addStream` names the service's keys: as its consumers do (`ClientOptions.keyLayout`, `partitions`). */
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
