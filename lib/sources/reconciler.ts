import { Observable, SchedulerLike, asyncScheduler, exhaustMap, interval } from 'rxjs';

/**
 * Every `periodMs`, runs `reap`: list the service's locks past their deadline (one consumer per
 * interval, behind a guard key) and touch them, so Redis deletes them and publishes `expired` on
 * time instead of when its background expiry cycle happens to sample them (seconds late with
 * thousands of volatile keys). A reap still running when the next is due makes it skip.
 */
export const lockReaper$ = <T>(periodMs: number, reap: () => Observable<T>, scheduler: SchedulerLike = asyncScheduler): Observable<T> =>
  interval(periodMs, scheduler).pipe(exhaustMap(reap));

/**
 * Every `periodMs`, runs `reconcile` (one consumer per interval, behind a guard key): check that
 * keyspace notifications are still on, and take one page of pending entries that have no lock.
 */
export const reconciler$ = <T>(periodMs: number, reconcile: () => Observable<T>, scheduler: SchedulerLike = asyncScheduler): Observable<T> =>
  interval(periodMs, scheduler).pipe(exhaustMap(reconcile));
