import { EMPTY, Observable, catchError, concat, concatMap, defer, exhaustMap, expand, finalize, forkJoin, from, ignoreElements, map, mergeMap, of, tap, timer } from 'rxjs';
import { BadEntry, LbsEntry, RawEntry, partitionEntries } from '../codecs/lbs-message';
import { deadLetter$ } from '../dead-letters';
import type { ClientDeps } from '../deps';
import type { PendingEntry } from '../port';
import { ownedInfo } from '../lease/ledger';
import type { StreamAdded } from '../types';

export type RecoveryDeps = Pick<ClientDeps, 'port' | 'keys' | 'ledger' | 'options' | 'scheduler' | 'log' | 'metrics' | 'lockKeyOf' | 'belongsHere'> & Partial<Pick<ClientDeps, 'fleet'>> & { readonly locks?: Pick<ClientDeps['locks'], 'strained'> };

/**
 * How many entries a sweep may take now: the room left (`maxStreams`), and in a balanced fleet up
 * to the share; none while the heartbeat falls behind (`LockManager.strained`: the locks this
 * consumer holds come first).
 */
export const sweepRoom = ({ ledger, fleet, locks }: Pick<RecoveryDeps, 'ledger' | 'fleet' | 'locks'>): number =>
  locks?.strained() === true ? 0 : Math.min(ledger.room(), fleet?.sweepAllowance() ?? Infinity);

/** What one page of the pending list gave. */
export interface SweepPage {
  readonly examined: number;
  /** Claimed: this consumer holds them now, each with its new fence. */
  readonly recovered: readonly (LbsEntry & { readonly fence: number })[];
  readonly deadLettered: readonly BadEntry[];
  readonly failures: readonly unknown[];
  /**
   * Entries of streams this consumer already owns, taken back from another consumer's pending
   * list (a Go consumer moved them without looking at the lock): not announced again.
   */
  readonly takenBack: number;
  /** Where the following page starts ('-' again after the last page). */
  readonly next: string;
  /** Ids of entries `mayClaim` held back this time. */
  readonly deferred?: readonly string[];
}

/** What one claim of a sweep page gave: a new stream, an owned stream's entry taken back, or nothing. */
/** Per entry: its new fence when claimed, `taken-back` when the lock was already ours, false when not claimed. */
type Won = number | 'taken-back' | false;

/**
 * The entries whose lock is gone, when this consumer may take fewer than there are (`sweepRoom`):
 * one PTTL each (sent together), so that its few places go to entries it can win. With room for
 * all, all of them (the claim script checks the locks anyway).
 */
const withoutLock = (deps: RecoveryDeps, entries: readonly LbsEntry[]): Observable<readonly LbsEntry[]> =>
  defer(() => {
    const { port, lockKeyOf } = deps;
    const room = sweepRoom(deps);
    if (entries.length <= room || room === 0) return of(room === 0 ? [] : entries);
    return forkJoin(entries.map((e) => port.touchLock(lockKeyOf(e.payload.dataStreamName, e.payload.idInLbs)))).pipe(
      map((ttls) => entries.filter((_, i) => ttls[i] === -2)),
    );
  });

/**
 * Recovers one page of the pending list: skips the entries this consumer keeps (held, or handed
 * back recently), acknowledges the ones whose LBS entry is gone, dead-letters the ones that do
 * not decode, and claims the others **whose lock is gone** (the claim script: lock absent, then
 * XCLAIM with `minIdleMs`, then lock). A live owner keeps its lock alive, so its entries stay
 * with it, although extending a lock never refreshes an entry's idle time. An entry of a stream
 * this consumer owns that sits in another consumer's pending list (a Go consumer's XCLAIM or
 * XAUTOCLAIM moved it; the lock is still ours) is taken back quietly: owned streams are never
 * announced twice. A failed claim is collected in `failures`; the other claims of the page go on.
 */
export const sweepPage$ = (deps: RecoveryDeps, minIdleMs: number, start: string, mayClaim: (entry: LbsEntry) => boolean = () => true): Observable<SweepPage> => {
  const { port, ledger, options, lockKeyOf } = deps;
  return port.pending(minIdleMs, start, options.lbsRecoveryCount).pipe(
    concatMap((rows) => {
      const next = rows.length < options.lbsRecoveryCount ? '-' : `(${rows[rows.length - 1]!.id}`;
      const candidates = rows.filter((row: PendingEntry) => !ledger.keeps(row.consumer, port.consumer, row.id));
      return port.entries(candidates.map((row) => row.id)).pipe(
        concatMap((entries) => {
          const dangling = candidates.filter((_, i) => entries[i] === null).map((row) => row.id);
          const decoded = partitionEntries(entries.filter((e): e is RawEntry => e !== null), options.maxEntryBytes, deps.belongsHere);
          const { bad } = decoded;
          const failures: unknown[] = [];
          // At most the room this consumer has left (maxStreams): the others stay for consumers with room.
          let reserved = 0;
          let good: readonly LbsEntry[] = [];
          const allowed = decoded.good.filter(mayClaim);
          const deferred = decoded.good.filter((e) => !allowed.includes(e)).map((e) => e.payload.idInLbs);
          const lockless$ = withoutLock(deps, allowed);
          const claims$ = lockless$.pipe(concatMap((free) => {
            reserved = ledger.reserve(Math.min(free.length, sweepRoom(deps)));
            good = free.slice(0, reserved);
            return good.length === 0
              ? of([] as Won[])
              : forkJoin(
                  good.map((entry) =>
                    port.claim(lockKeyOf(entry.payload.dataStreamName, entry.payload.idInLbs), entry.payload.idInLbs, minIdleMs, entry.payload.dataStreamName).pipe(
                      map((result): Won => {
                        if (result.kind !== 'claimed') return false;
                        return result.takenBack === true && ledger.holds(entry.payload.dataStreamName, entry.payload.idInLbs) ? 'taken-back' : result.fence;
                      }),
                      catchError((err: unknown) => {
                        failures.push(err);
                        return of<Won>(false);
                      }),
                    ),
                  ),
                );
          }), finalize(() => ledger.unreserve(reserved)));
          return concat(port.ackDangling(dangling).pipe(ignoreElements()), deadLetter$(deps, bad), claims$).pipe(
            map(
              (won): SweepPage => ({
                examined: rows.length,
                recovered: good.flatMap((e, i) => { const fence = won[i]; return typeof fence === 'number' ? [{ ...e, fence }] : []; }),
                deadLettered: bad,
                failures,
                takenBack: won.filter((w) => w === 'taken-back').length,
                next,
                deferred,
              }),
            ),
          );
        }),
      );
    }),
  );
};

/** One recovery sweep: the whole pending list (entries idle at least `minIdleMs`), page after page. */
export const sweepOnce$ = (deps: RecoveryDeps, minIdleMs: number): Observable<SweepPage> =>
  sweepPage$(deps, minIdleMs, '-').pipe(expand((page) => (page.next === '-' || sweepRoom(deps) === 0 ? EMPTY : sweepPage$(deps, minIdleMs, page.next))));

/** Announces recovered entries: this consumer holds them now. */
export const announce = (deps: Pick<ClientDeps, 'ledger'>, entries: readonly (LbsEntry & { readonly fence: number })[]): StreamAdded[] =>
  entries.map((entry) => {
    const lease = deps.ledger.take(entry.payload, entry.additionalInfo, entry.fence, true);
    return { type: 'StreamAdded', payload: ownedInfo(lease), additionalInfo: lease.additionalInfo };
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
