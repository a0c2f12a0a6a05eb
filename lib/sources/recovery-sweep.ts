import { EMPTY, Observable, SchedulerLike, asyncScheduler, concatMap, defer, exhaustMap, expand, timer } from 'rxjs';
import type { BadEntry, LbsEntry, RawEntry } from '../codecs/lbs-message';
import { partitionEntries } from '../operators/decode-entries';
import { lockKey } from '../redis/keys';
import type { ClaimResult } from '../redis/scripts';
import type { PendingEntry } from '../redis/store';

/** The Redis operations a sweep needs (`LbsStore` provides them). */
export interface RecoveryPort {
  pending(minIdleMs: number, start: string, count: number): Promise<PendingEntry[]>;
  entries(ids: readonly string[]): Promise<(RawEntry | null)[]>;
  ackDangling(ids: readonly string[]): Promise<void>;
  deadLetter(bad: readonly BadEntry[]): Promise<void>;
  claim(lock: string, id: string, minIdleMs: number): Promise<ClaimResult>;
}

export interface SweepConfig {
  /** Only entries pending at least this long are examined (`lbsIdleTime`). */
  readonly minIdleMs: number;
  /** Pending entries per XPENDING page (`lbsRecoveryCount`). */
  readonly count: number;
  readonly maxEntryBytes: number;
  /** Entries of the pending list that this consumer already holds are skipped. */
  readonly isOwned: (entry: PendingEntry) => boolean;
}

/** What one page of a sweep did. */
export interface SweepPage {
  readonly examined: number;
  readonly recovered: readonly LbsEntry[];
  readonly deadLettered: readonly BadEntry[];
  readonly failures: readonly unknown[];
}

/**
 * One recovery sweep: walks the group's pending list page by page (XPENDING IDLE, following the
 * last id as the cursor) and takes every entry **whose lock is gone** (one atomic script: lock
 * absent, then XCLAIM, then lock). A live owner keeps its lock alive, so its entries stay with
 * it, although extending a lock never refreshes the entry's idle time. Emits one `SweepPage` per page.
 */
export const sweepOnce$ = (port: RecoveryPort, config: SweepConfig): Observable<SweepPage> => {
  const page = (start: string) => defer(() => port.pending(config.minIdleMs, start, config.count));
  return page('-').pipe(
    expand((rows) => (rows.length < config.count ? EMPTY : page(`(${rows[rows.length - 1]!.id}`))),
    concatMap((rows) => defer(() => recoverPage(port, config, rows))),
  );
};

/**
 * One page of the pending list from `start`, recovered like a sweep's page; `next` is where the
 * following page starts ('-' again after the last page), so a caller can walk the whole list one
 * page per interval.
 */
export const sweepPage = async (port: RecoveryPort, config: SweepConfig, start: string): Promise<SweepPage & { next: string }> => {
  const rows = await port.pending(config.minIdleMs, start, config.count);
  const page = await recoverPage(port, config, rows);
  return { ...page, next: rows.length < config.count ? '-' : `(${rows[rows.length - 1]!.id}` };
};

const recoverPage = async (port: RecoveryPort, config: SweepConfig, rows: readonly PendingEntry[]): Promise<SweepPage> => {
  const candidates = rows.filter((row) => !config.isOwned(row));
  const entries = await port.entries(candidates.map((row) => row.id));
  const dangling = candidates.filter((_, i) => entries[i] === null).map((row) => row.id);
  await port.ackDangling(dangling);
  const { good, bad } = partitionEntries(entries.filter((e): e is RawEntry => e !== null), config.maxEntryBytes);
  await port.deadLetter(bad);
  const failures: unknown[] = [];
  const outcomes = await Promise.all(
    good.map((entry) =>
      port.claim(lockKey(entry.payload.dataStreamName, entry.payload.idInLbs), entry.payload.idInLbs, config.minIdleMs).then(
        (result) => result.kind === 'claimed',
        (err: unknown) => {
          failures.push(err);
          return false;
        },
      ),
    ),
  );
  return { examined: rows.length, recovered: good.filter((_, i) => outcomes[i]), deadLettered: bad, failures };
};

/**
 * Sweeps at once, then every `periodMs`; a sweep still running when the next is due makes it skip.
 * `sweep` must not error (the caller logs and swallows failures, so one failed sweep never stops the next).
 */
export const recoverySweep$ = <T>(periodMs: number, sweep: () => Observable<T>, scheduler: SchedulerLike = asyncScheduler): Observable<T> =>
  timer(0, periodMs, scheduler).pipe(exhaustMap(sweep));
