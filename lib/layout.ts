import { InvalidOptionsError } from './errors';
import { KeyLayout, lockKey, parseLockKey, parseTaggedLockKey, partitionOf, serviceKeys, taggedLockKey, taggedServiceKeys } from './keys';
import { MAX_PARTITIONS, parseTag, partitionTags } from './partition-tags';
import type { ServiceKeys } from './keys';

/** Partitions of a tagged service when the options name none: one per primary of a 3-primary Cluster (see `partitionTags`); 1 on one node. */
export const DEFAULT_CLUSTER_PARTITIONS = 3;

/**
 * Where every key of one service lives: the layout, its partitions, and how a data stream and a
 * lock key map to a partition. Built once per client (and per producer call) from the options.
 */
export interface Layout {
  readonly kind: KeyLayout;
  readonly partitions: number;
  /** The keys of partition `p`. */
  keysOf(p: number): ServiceKeys;
  /** The lock key of an LBS entry (in the partition of its data stream). */
  lockKeyOf(dataStreamName: string, idInLbs: string): string;
  /** A lock key of this service split back into its name and entry id, or undefined. */
  parseLockKey(key: string): { dataStreamName: string; idInLbs: string } | undefined;
  /** The partition a key of this service belongs to (0 in the Go layout). */
  partitionOfKey(key: string): number | undefined;
  /** The partition of a data stream. */
  partitionOf(dataStreamName: string): number;
}

/**
 * The layout of `service` on a connection: a Cluster always uses `tagged` (refuses `go`); one node
 * uses `go` unless `tagged` is asked for. Throws `InvalidOptionsError`.
 */
export const resolveLayout = (service: string, onCluster: boolean, options: { keyLayout?: KeyLayout; partitions?: number }): Layout => {
  const kind = options.keyLayout ?? (onCluster ? 'tagged' : 'go');
  if (onCluster && kind === 'go') {
    throw new InvalidOptionsError("options.keyLayout 'go' cannot run on a Redis Cluster (its scripts would cross slots): use 'tagged' (the default on a Cluster).");
  }
  if (kind === 'go') {
    if ((options.partitions ?? 1) !== 1) throw new InvalidOptionsError(`options.partitions (${options.partitions}) needs keyLayout 'tagged': the Go layout has one LBS per service.`);
    const keys = serviceKeys(service);
    return {
      kind,
      partitions: 1,
      keysOf: () => keys,
      lockKeyOf: lockKey,
      parseLockKey,
      partitionOfKey: () => 0,
      partitionOf: () => 0,
    };
  }
  if (service.includes('}')) throw new InvalidOptionsError(`The service name must not contain "}" with keyLayout 'tagged' (it would end the hash tag early): got "${service}".`);
  const partitions = options.partitions ?? (onCluster ? DEFAULT_CLUSTER_PARTITIONS : 1);
  if (partitions > MAX_PARTITIONS) throw new InvalidOptionsError(`options.partitions (${partitions}) must be at most ${MAX_PARTITIONS}.`);
  const tags = partitionTags(service, partitions);
  const keys = tags.map((tag, p) => taggedServiceKeys(service, p, tag));
  /** The partition of a key of this service, whose tag must be the one its partition has. */
  const partitionOfKey = (key: string): number | undefined => {
    const found = parseTag(service, key);
    return found !== undefined && tags[found.partition] === found.tag ? found.partition : undefined;
  };
  return {
    kind,
    partitions,
    keysOf: (p) => keys[p]!,
    lockKeyOf: (name, id) => taggedLockKey(tags[partitionOf(name, partitions)]!, name, id),
    parseLockKey: (key) => {
      const parsed = parseTaggedLockKey(service, key);
      return parsed === undefined || tags[parsed.partition] !== parsed.tag ? undefined : { dataStreamName: parsed.dataStreamName, idInLbs: parsed.idInLbs };
    },
    partitionOfKey,
    partitionOf: (name) => partitionOf(name, partitions),
  };
};
