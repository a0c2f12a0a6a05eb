import type { SchedulerLike } from 'rxjs';
import type { LeaseLedger } from './lease/ledger';
import type { LockManager } from './lease/lock-manager';
import type { ServiceKeys } from './keys';
import type { LbsPort, LbsSession } from './port';
import type { Logger, MetricsRecorder, ResolvedOptions } from './types';

/**
 * What the sources and the lease commands of one consumer are built from: the client builds it
 * once; each source takes the part it needs (`Pick<ClientDeps, ...>`), so a marble spec passes a
 * fake port of `cold()` values and a `TestScheduler`.
 */
export interface ClientDeps {
  readonly service: string;
  readonly keys: ServiceKeys;
  readonly port: LbsPort;
  readonly ledger: LeaseLedger;
  readonly locks: LockManager;
  readonly options: ResolvedOptions;
  /** Every timer and every `now()` a decision depends on. */
  readonly scheduler: SchedulerLike;
  readonly log: Logger;
  readonly metrics: MetricsRecorder;
  /** The lock key of an LBS entry. */
  readonly lockKeyOf: (dataStreamName: string, idInLbs: string) => string;
  /** A lock key of this service split into its name and entry id (undefined for any other key). */
  readonly parseLockKey?: (key: string) => { dataStreamName: string; idInLbs: string } | undefined;
  /**
   * The LBS partitions of the service (one in the Go layout): each partition's sources (reader,
   * recovery, reconciler, reaper, expiries) run on its own keys and port; `port` above is the
   * one in front of them all (heartbeat, lease commands, configuration, groups).
   */
  readonly partitions?: readonly PartitionDeps[];
  /** In one partition's sources: whether a data stream belongs to this partition (an entry that does not is dead-lettered). */
  readonly belongsHere?: (dataStreamName: string) => boolean;
  /** The classes `notify-keyspace-events` must include ('Kx'; 'Kxt' for the tagged layout's woken reads). */
  readonly keyspaceEvents?: string;
}

/** What the sources of one LBS partition work on. */
export interface PartitionDeps {
  readonly index: number;
  readonly keys: ServiceKeys;
  readonly port: LbsPort;
  readonly belongsHere?: (dataStreamName: string) => boolean;
  /** Its share of the session: its reads and its locks' expiries. */
  readonly sessionOf: (session: LbsSession) => LbsSession;
}
