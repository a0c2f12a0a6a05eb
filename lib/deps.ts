import type { SchedulerLike } from 'rxjs';
import type { Fleet, HandOver } from './lease/fleet';
import type { LeaseLedger } from './lease/ledger';
import type { LockManager } from './lease/lock-manager';
import type { ServiceKeys } from './keys';
import type { LbsPort } from './port';
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
  /** The fleet's membership and balance (absent: this consumer claims at once and never hands back). */
  readonly fleet?: Fleet;
  /** The streams a `consumeStream` reads, handed back at their next commit when rebalancing. */
  readonly handOver?: HandOver;
}
