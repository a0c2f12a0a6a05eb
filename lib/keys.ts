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

export const serviceKeys = (service: string): ServiceKeys => ({
  lbs: lbsKey(service),
  group: groupName(service),
  dead: deadLetterKey(service),
  deadlines: `${service}-deadlines`,
  names: `${service}-names`,
  epoch: `${service}-epoch`,
  reaperGuard: `${service}-reaper`,
  reconcilerGuard: `${service}-reconciler`,
  members: `${service}-members`,
  locksOf: (consumer) => `${service}-locks:${consumer}`,
});
