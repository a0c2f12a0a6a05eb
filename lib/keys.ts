/**
 * Every Redis key, field and name of the wire format shared with redis-stream-client-go.
 * Change nothing here without changing the Go side too: a mixed fleet reads the same keys.
 */

/** Separates the data-stream name from the LBS entry id in a lock key. Literal text. */
export const MUTEX_KEY_SEP = '<MUTEX_KEY_SEP>';

/** The single field of an LBS entry; its value is the JSON `{"DataStreamName": ..., "Info": {...}}`. */
export const LBS_FIELD = 'lbs-input';

export const lbsKey = (service: string): string => `${service}-input`;
export const groupName = (service: string): string => `${service}-group`;
export const deadLetterKey = (service: string): string => `${service}-dead`;
export const consumerName = (id: string): string => `redis-consumer-${id}`;
export const lockKey = (dataStreamName: string, idInLbs: string): string => `${dataStreamName}${MUTEX_KEY_SEP}${idInLbs}`;

/** Splits a lock key back into its data-stream name and LBS entry id (the id never holds the separator). */
export const parseLockKey = (key: string): { dataStreamName: string; idInLbs: string } | undefined => {
  const at = key.lastIndexOf(MUTEX_KEY_SEP);
  if (at <= 0) return undefined;
  const idInLbs = key.slice(at + MUTEX_KEY_SEP.length);
  return /^\d+-\d+$/.test(idInLbs) ? { dataStreamName: key.slice(0, at), idInLbs } : undefined;
};

/** The channel prefix of keyspace events in `db`; the event's key follows it. */
export const keyspacePrefix = (db: number): string => `__keyspace@${db}__:`;

/** PSUBSCRIBE pattern that matches keyspace events of every lock key in `db`. */
export const keyspacePattern = (db: number): string => `${keyspacePrefix(db)}*${MUTEX_KEY_SEP}*`;

/** The keys of one service: the Go wire format, plus the keys only this library writes (Go consumers ignore them). */
export interface ServiceKeys {
  /** The load-balancer stream. */
  readonly lbs: string;
  readonly group: string;
  /** Stream of LBS entries refused, each with its reason. */
  readonly dead: string;
  /**
   * Sorted set: consumer name -> its deadline (ms, Redis clock), the time by which its earliest
   * lock expires unless it extends it. Lets the reaper expire the locks of a dead consumer on time.
   */
  readonly deadlines: string;
  /** Hash DataStreamName -> the LBS entry id in charge of it: one data stream is handled by one entry at a time. */
  readonly names: string;
  /** A random value set with the group: when it changes or vanishes, Redis lost its data (restarted without persistence). */
  readonly epoch: string;
  /** Guard keys: one consumer of the service reaps (or reconciles) per interval. */
  readonly reaperGuard: string;
  readonly reconcilerGuard: string;
  /** Set of the lock keys a consumer of this library holds (what the reaper touches once its deadline passes). */
  locksOf(consumer: string): string;
}

export const serviceKeys = (service: string): ServiceKeys => ({
  lbs: lbsKey(service),
  group: groupName(service),
  dead: deadLetterKey(service),
  deadlines: `${service}-deadlines`,
  names: `${service}-names`,
  epoch: `${service}-epoch`,
  reaperGuard: `${service}-reaper`,
  reconcilerGuard: `${service}-reconciler`,
  locksOf: (consumer) => `${service}-locks:${consumer}`,
});

/**
 * How keys are named. `go`: the wire format above, one LBS per service (a single node only; Go
 * consumers share it). `tagged`: every key of one partition of the service carries one hash tag,
 * `{<service>:<partition>}`, so that each script's keys fall in one Cluster slot and one ACL key
 * pattern, `{<service>:*`, covers the whole service. A Cluster always uses `tagged`.
 */
export type KeyLayout = 'go' | 'tagged';

/** The hash tag of one partition of a service: `{<service>:<partition>}`. */
export const partitionTag = (service: string, partition: number): string => `{${service}:${partition}}`;

/**
 * The partition of a data stream among `partitions`: FNV-1a (32 bits) of its name's UTF-8 bytes,
 * modulo `partitions`. Stable across processes, versions and languages, so one data stream always
 * lands in one partition.
 */
export const partitionOf = (dataStreamName: string, partitions: number): number => {
  if (partitions <= 1) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(dataStreamName, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
};

/** The key holding a tagged service's partition count (in partition 0's slot), set once by the first consumer or producer. */
export const partitionCountKey = (service: string): string => `${partitionTag(service, 0)}-partitions`;

/** The partition a tagged key belongs to (from its hash tag), or undefined for a key of another service or layout. */
export const partitionOfKey = (service: string, key: string): number | undefined => {
  const prefix = `{${service}:`;
  if (!key.startsWith(prefix)) return undefined;
  const end = key.indexOf('}', prefix.length);
  const p = end < 0 ? NaN : Number(key.slice(prefix.length, end));
  return Number.isInteger(p) && p >= 0 ? p : undefined;
};

/** Escapes Redis glob characters (`* ? [ ] \`) so a name matches only itself in a pattern. */
export const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** The lock key of an entry of partition `partition` in the tagged layout: `{<service>:<p>}<DataStreamName><MUTEX_KEY_SEP><id>`. */
export const taggedLockKey = (service: string, partition: number, dataStreamName: string, idInLbs: string): string =>
  `${partitionTag(service, partition)}${lockKey(dataStreamName, idInLbs)}`;

/** PSUBSCRIBE pattern of keyspace events of every key of a tagged service in `db` (its locks expire, its LBS streams get entries). */
export const taggedKeyspacePattern = (service: string, db: number): string => `${keyspacePrefix(db)}{${globEscape(service)}:*`;

/** The keys of one partition of a service in the tagged layout: the same roles as `serviceKeys`, each under the partition's hash tag. */
export const taggedServiceKeys = (service: string, partition: number): ServiceKeys & { readonly partition: number } => {
  const tag = partitionTag(service, partition);
  return {
    partition,
    lbs: `${tag}-input`,
    group: groupName(service),
    dead: `${tag}-dead`,
    deadlines: `${tag}-deadlines`,
    names: `${tag}-names`,
    epoch: `${tag}-epoch`,
    reaperGuard: `${tag}-reaper`,
    reconcilerGuard: `${tag}-reconciler`,
    locksOf: (consumer) => `${tag}-locks:${consumer}`,
  };
};

/** Splits a tagged lock key of `service` into its partition, data-stream name and LBS entry id. */
export const parseTaggedLockKey = (service: string, key: string): { partition: number; dataStreamName: string; idInLbs: string } | undefined => {
  const partition = partitionOfKey(service, key);
  if (partition === undefined) return undefined;
  const parsed = parseLockKey(key.slice(partitionTag(service, partition).length));
  return parsed === undefined ? undefined : { partition, ...parsed };
};
