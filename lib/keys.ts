/**
 * Every Redis key, field and name of the wire format shared with redis-stream-client-go.
 * Change nothing here without changing the Go side too: a mixed fleet reads the same keys.
 */
import { parseTag } from './partition-tags';

/**
 * Separates the data-stream name from the LBS entry id in a lock key. Literal text.
 * @example
 * lockKey('session-42', '1-0') === `session-42${MUTEX_KEY_SEP}1-0`; // true: the text '<MUTEX_KEY_SEP>' itself
 * await redis.keys(`*${MUTEX_KEY_SEP}*`); // every lock (use SCAN in production)
 */
export const MUTEX_KEY_SEP = '<MUTEX_KEY_SEP>';

/**
 * The single field of an LBS entry; its value is the JSON `{"DataStreamName": ..., "Info": {...}}`.
 * @example
 * await redis.xadd(lbsKey('my-service'), '*', LBS_FIELD, JSON.stringify({ DataStreamName: 'session-42', Info: {} })); // what addStream writes
 */
export const LBS_FIELD = 'lbs-input';

/**
 * The service's load-balancer stream (LBS), where producers add streams: `<service>-input`.
 *
 * ## Example
 * ```ts
 * await redis.xlen(lbsKey('my-service')); // entries not yet done
 * ```
 */
export const lbsKey = (service: string): string => `${service}-input`;

/**
 * The consumer group on the LBS: `<service>-group`.
 *
 * ## Example
 * ```ts
 * await redis.xpending(lbsKey('my-service'), groupName('my-service')); // streams handed out, not done
 * ```
 */
export const groupName = (service: string): string => `${service}-group`;

/**
 * The stream of dead letters (LBS entries refused, with their reason): `<service>-dead`.
 *
 * ## Example
 * ```ts
 * await redis.xrange(deadLetterKey('my-service'), '-', '+');
 * ```
 */
export const deadLetterKey = (service: string): string => `${service}-dead`;
export const consumerName = (id: string): string => `redis-consumer-${id}`;
/**
 * The ownership lock of one handed-out stream: `<DataStreamName><MUTEX_KEY_SEP><LBS entry id>`,
 * with `<MUTEX_KEY_SEP>` the literal text (the Go library's wire format); its value is the owner.
 *
 * ## Example
 * ```ts
 * const owner = await redis.get(lockKey(n.payload.dataStreamName, n.payload.idInLbs)); // 'redis-consumer-<id>'
 * ```
 */
export const lockKey = (dataStreamName: string, idInLbs: string): string => `${dataStreamName}${MUTEX_KEY_SEP}${idInLbs}`;

/** What replaces the separator of a lock key in the keys kept beside it (see `entryKeysOf`); the Lua scripts get them from here (include `entrykeys`). */
export const COMMITTED_SEP = '<COMMITTED>';
export const FENCE_SEP = '<FENCE>';

/**
 * The keys `consumeStream` keeps beside a stream's lock key, derived from it alone (its last
 * separator replaced), so that a layout that puts a hash tag in the data-stream name keeps them in
 * the lock's slot (one script checks the lock and writes them), and so that they never match the
 * lock keys' pattern `*<MUTEX_KEY_SEP>*`: the committed position (the id of the last entry
 * handled and committed) and the fencing token (a counter every take of the stream increments).
 * Written only by this library; `doneStream` deletes both.
 *
 * @example
 * entryKeysOf(lockKey('s1', '1-0')) // { committed: 's1<COMMITTED>1-0', fence: 's1<FENCE>1-0' }
 */
export const entryKeysOf = (lock: string): { readonly committed: string; readonly fence: string } => {
  const at = lock.lastIndexOf(MUTEX_KEY_SEP);
  const [head, tail] = at < 0 ? [lock, ''] : [lock.slice(0, at), lock.slice(at + MUTEX_KEY_SEP.length)];
  return { committed: `${head}${COMMITTED_SEP}${tail}`, fence: `${head}${FENCE_SEP}${tail}` };
};

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
  /** Hash: consumer name -> `<capacity> <owned> <joinedAt> <incarnation> <seenAt>`, written by each heartbeat: the fleet's membership. */
  readonly members: string;
  /** Set of the lock keys a consumer of this library holds (what the reaper touches once its deadline passes). */
  locksOf(consumer: string): string;
}

/** The keys of one service, each named by `name(<role>)`, and its group. */
const keysNamed = (name: (role: string) => string, group: string): ServiceKeys => ({
  lbs: name('input'),
  group,
  dead: name('dead'),
  deadlines: name('deadlines'),
  names: name('names'),
  epoch: name('epoch'),
  reaperGuard: name('reaper'),
  reconcilerGuard: name('reconciler'),
  members: name('members'),
  locksOf: (consumer) => name(`locks:${consumer}`),
});

/** The keys of one service in the Go layout: `<service>-input`, `<service>-group`, `<service>-dead`, ... */
export const serviceKeys = (service: string): ServiceKeys => keysNamed((role) => `${service}-${role}`, groupName(service));

/**
 * How keys are named. `go`: the wire format above, one LBS per service (a single node only; Go
 * consumers share it). `tagged`: every key of one partition of the service carries one hash tag,
 * `{<service>:<partition>}` or `{<service>:<partition>.<k>}` (`partitionTags`: the tag that puts
 * the partition in its share of the slots), so that each script's keys fall in one Cluster slot
 * and one ACL key pattern, `{<service>:*`, covers the whole service. A Cluster always uses `tagged`.
 * @example
 * const keyLayout: KeyLayout = 'tagged';
 * new RedisStreamClient(redis, 'my-service', { consumerId: 'worker-1', keyLayout }); // addStream(..., { keyLayout }) too
 */
export type KeyLayout = 'go' | 'tagged';

/**
 * The partition of a data stream among `partitions`: FNV-1a (32 bits) of its name's UTF-8 bytes,
 * modulo `partitions`. Stable across processes, versions and languages, so one data stream always
 * lands in one partition.
 * @example
 * partitionOf('session-42', 3); // always the same partition (0, 1 or 2) of a 3-partition service
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

/**
 * The key holding a tagged service's partition count, `{<service>:0}-partitions`, set once by the
 * first consumer or producer. Its name does not depend on the count (the partitions' tags do).
 */
export const partitionCountKey = (service: string): string => `{${service}:0}-partitions`;

/** Escapes Redis glob characters (`* ? [ ] \`) so a name matches only itself in a pattern. */
export const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** The lock key of an entry in the tagged layout: its partition's tag, then the Go lock key (`{<service>:<p>}<DataStreamName><MUTEX_KEY_SEP><id>`). */
export const taggedLockKey = (tag: string, dataStreamName: string, idInLbs: string): string => `${tag}${lockKey(dataStreamName, idInLbs)}`;

/** PSUBSCRIBE pattern of keyspace events of every key of a tagged service in `db` (its locks expire, its LBS streams get entries). */
export const taggedKeyspacePattern = (service: string, db: number): string => `${keyspacePrefix(db)}{${globEscape(service)}:*`;

/** The keys of one partition of a service in the tagged layout, under its hash tag `tag` (see `partitionTags`): the same roles as `serviceKeys`. */
export const taggedServiceKeys = (service: string, partition: number, tag: string): ServiceKeys & { readonly partition: number } => ({
  partition,
  ...keysNamed((role) => `${tag}-${role}`, groupName(service)),
});

/** Splits a tagged lock key of `service` into its partition, its tag, the data-stream name and the LBS entry id. */
export const parseTaggedLockKey = (service: string, key: string): { partition: number; tag: string; dataStreamName: string; idInLbs: string } | undefined => {
  const tagged = parseTag(service, key);
  if (tagged === undefined) return undefined;
  const parsed = parseLockKey(key.slice(tagged.tag.length));
  return parsed === undefined ? undefined : { ...tagged, ...parsed };
};
