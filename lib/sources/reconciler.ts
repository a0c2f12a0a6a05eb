import { EMPTY, Observable, catchError, concat, exhaustMap, filter, from, interval, mergeMap, tap } from 'rxjs';
import type { LbsEntry } from '../codecs/lbs-message';
import { RecoveryDeps, announce, sweepPage$, sweepRoom } from './recovery-sweep';
import type { StreamAdded } from '../types';

export interface ReconcilerDeps extends RecoveryDeps {
  /** Re-applies the keyspace flags (never errors). */
  readonly flags: Observable<never>;
}

/**
 * The reconciler: every `reconcileInterval`, one consumer of the service (behind a guard key)
 * re-applies the keyspace flags, in case another process or a restart turned them off, and takes
 * one page of pending entries idle for `hbInterval` whose lock is gone (their owner died before
 * locking them, or the lock vanished without an event: evicted, expired while Redis was down, an
 * event lost in a reconnection). The page starts where the previous turn's ended (after a short
 * page, from the start again). A consumer with no room left (`maxStreams`, or its fair share in
 * a balanced fleet) or whose heartbeat falls behind skips its turns, so another one wins them. A failed turn is logged and produces nothing.
 */
export const reconciler$ = (deps: ReconcilerDeps): Observable<StreamAdded> => {
  const { port, options, scheduler, log } = deps;
  let cursor = '-';
  // In a balanced fleet a lockless entry goes first to its designated claimer (a stream handed back
  // is lockless for milliseconds); the others take it at their next turn if it is still there.
  let seen = new Set<string>();
  const mayClaim = (entry: LbsEntry): boolean =>
    deps.fleet === undefined || seen.has(entry.payload.idInLbs) || deps.fleet.claimDelay(entry.payload.dataStreamName) === 0;
  const turn = (): Observable<StreamAdded> =>
    sweepRoom(deps) === 0 ? EMPTY : port.winReconcilerTurn(options.reconcileInterval).pipe(
      filter((won) => won),
      mergeMap(() => concat(deps.flags, sweepPage$(deps, options.hbInterval, cursor, mayClaim))),
      tap((page) => {
        cursor = page.next;
        seen = new Set(page.deferred);
        for (const err of page.failures) log.warn({ err }, 'reconciling one LBS entry failed');
        if (page.recovered.length > 0) log.info({ recovered: page.recovered.length }, 'took pending entries that had no lock');
        if (page.takenBack > 0) log.info({ takenBack: page.takenBack }, 'took back the entries of owned streams that another consumer had moved');
      }),
      mergeMap((page) => from(announce(deps, page.recovered))),
      catchError((err: unknown) => {
        log.warn({ err }, 'reconciling failed; retrying at the next interval');
        return EMPTY;
      }),
    );
  return interval(options.reconcileInterval, scheduler).pipe(exhaustMap(turn));
};
