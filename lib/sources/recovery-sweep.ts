import { EMPTY, Observable, catchError, concat, concatMap, defer, exhaustMap, expand, forkJoin, from, ignoreElements, map, mergeMap, of, tap, timer } from 'rxjs';
import { BadEntry, LbsEntry, RawEntry, partitionEntries } from '../codecs/lbs-message';
import { deadLetter$ } from '../dead-letters';
import type { ClientDeps } from '../deps';
import type { PendingEntry } from '../port';
import type { StreamAdded } from '../types';

export type RecoveryDeps = Pick<ClientDeps, 'port' | 'keys' | 'ledger' | 'options' | 'scheduler' | 'log' | 'metrics' | 'lockKeyOf' | 'belongsHere'>;

/** What one page of the pending list gave. */
export interface SweepPage {
  readonly examined: number;
  readonly recovered: readonly LbsEntry[];
  readonly deadLettered: readonly BadEntry[];
  readonly failures: readonly unknown[];
  /** Where the following page starts ('-' again after the last page). */
  readonly next: string;
}

/**
 * Recovers one page of the pending list: skips the entries this consumer keeps (held, or handed
 * back recently), acknowledges the ones whose LBS entry is gone, dead-letters the ones that do
 * not decode, and claims the others **whose lock is gone** (the claim script: lock absent, then
 * XCLAIM with `minIdleMs`, then lock). A live owner keeps its lock alive, so its entries stay
 * with it, although extending a lock never refreshes an entry's idle time. A failed claim is
 * collected in `failures`; the other claims of the page go on.
 */
export const sweepPage$ = (deps: RecoveryDeps, minIdleMs: number, start: string): Observable<SweepPage> => {
  const { port, ledger, options, lockKeyOf } = deps;
  return port.pending(minIdleMs, start, options.lbsRecoveryCount).pipe(
    concatMap((rows) => {
      const next = rows.length < options.lbsRecoveryCount ? '-' : `(${rows[rows.length - 1]!.id}`;
      const candidates = rows.filter((row: PendingEntry) => !ledger.keeps(row.consumer, port.consumer, row.id));
      return port.entries(candidates.map((row) => row.id)).pipe(
        concatMap((entries) => {
          const dangling = candidates.filter((_, i) => entries[i] === null).map((row) => row.id);
          const { good, bad } = partitionEntries(entries.filter((e): e is RawEntry => e !== null), options.maxEntryBytes, deps.belongsHere);
          const failures: unknown[] = [];
          const claims$ = defer(() =>
            good.length === 0
              ? of([] as boolean[])
              : forkJoin(
                  good.map((entry) =>
                    port.claim(lockKeyOf(entry.payload.dataStreamName, entry.payload.idInLbs), entry.payload.idInLbs, minIdleMs).pipe(
                      map((result) => result.kind === 'claimed'),
                      catchError((err: unknown) => {
                        failures.push(err);
                        return of(false);
                      }),
                    ),
                  ),
                ),
          );
          return concat(port.ackDangling(dangling).pipe(ignoreElements()), deadLetter$(deps, bad), claims$).pipe(
            map((won): SweepPage => ({ examined: rows.length, recovered: good.filter((_, i) => won[i]), deadLettered: bad, failures, next })),
          );
        }),
      );
    }),
  );
};

/** One recovery sweep: the whole pending list (entries idle at least `minIdleMs`), page after page. */
export const sweepOnce$ = (deps: RecoveryDeps, minIdleMs: number): Observable<SweepPage> =>
  sweepPage$(deps, minIdleMs, '-').pipe(expand((page) => (page.next === '-' ? EMPTY : sweepPage$(deps, minIdleMs, page.next))));

/** Announces recovered entries: this consumer holds them now. */
export const announce = (deps: Pick<ClientDeps, 'ledger'>, entries: readonly LbsEntry[]): StreamAdded[] =>
  entries.map((entry) => {
    const lease = deps.ledger.take(entry.payload, entry.additionalInfo);
    return { type: 'StreamAdded', payload: lease.payload, additionalInfo: lease.additionalInfo };
  });

/**
 * Start-up recovery, then a sweep every `lbsIdleTime` (a sweep still running when the next is
 * due makes it skip): entries whose owner is gone become `StreamAdded`. The first sweep records
 * `recordStartupRecovery`. A failed sweep is logged and never ends the source.
 */
export const recoverySweep$ = (deps: RecoveryDeps): Observable<StreamAdded> => {
  const { options, scheduler, log, metrics } = deps;
  let first = true;
  const sweep = (): Observable<StreamAdded> => {
    const started = scheduler.now();
    const startup = first;
    first = false;
    let recovered = 0;
    return sweepOnce$(deps, options.lbsIdleTime).pipe(
      tap((page) => {
        recovered += page.recovered.length;
        for (const err of page.failures) log.warn({ err }, 'recovering one LBS entry failed');
      }),
      mergeMap((page) => from(announce(deps, page.recovered))),
      tap({
        complete: () => {
          if (startup) metrics.recordStartupRecovery?.(true, recovered, scheduler.now() - started);
          if (recovered > 0) log.info({ recovered }, 'recovered LBS entries whose owner is gone');
        },
      }),
      catchError((err: unknown) => {
        if (startup) metrics.recordStartupRecovery?.(false, recovered, scheduler.now() - started);
        log.warn({ err }, 'recovery sweep failed; the next one runs in lbsIdleTime');
        return EMPTY;
      }),
    );
  };
  return timer(0, options.lbsIdleTime, scheduler).pipe(exhaustMap(sweep));
};
