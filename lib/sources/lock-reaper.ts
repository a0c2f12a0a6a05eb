import { EMPTY, Observable, catchError, exhaustMap, ignoreElements, interval, mergeMap } from 'rxjs';
import type { ClientDeps } from '../deps';

/** Most overdue consumers one reap looks at. */
const REAP_LIMIT = 100;

/**
 * The reaper: every `reapInterval`, list the service's consumers past their deadline (one consumer
 * of the service per interval, behind a guard key) and touch their locks, so that Redis deletes
 * those past their TTL and publishes `expired` now, to every consumer (this one included, through
 * its subscriber), instead of when its background expiry cycle happens to sample them (seconds
 * late with thousands of volatile keys). Emits nothing; a reap still running when the next is due
 * makes it skip; a failed one is logged. Locks that vanished without an event are left to the
 * reconciler.
 */
export const lockReaper$ = ({ port, options, scheduler, log }: Pick<ClientDeps, 'port' | 'options' | 'scheduler' | 'log'>): Observable<never> =>
  interval(options.reapInterval, scheduler).pipe(
    exhaustMap(() =>
      port.overdueConsumers(options.reapInterval, REAP_LIMIT).pipe(
        mergeMap((overdue) => overdue),
        mergeMap((consumer) => port.touchLocksOf(consumer)),
        ignoreElements(),
        catchError((err: unknown) => {
          log.warn({ err }, 'reaping overdue locks failed; retrying at the next interval');
          return EMPTY;
        }),
      ),
    ),
  );
