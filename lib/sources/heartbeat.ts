import { Observable, SchedulerLike, asyncScheduler, exhaustMap, interval, merge, mergeMap, share } from 'rxjs';

/**
 * Ticks every `periodMs` (half the lock TTL). At every tick `judge` decides locally which locks
 * must be assumed lost (it needs no Redis, so it runs even while an extension hangs), and
 * `extend` extends all owned locks at once; a tick whose extension is still running when the
 * next one is due makes that one skip, so slow Redis never piles up calls.
 *
 * @param extend one round trip per chunk of locks; emits that tick's results
 * @param judge pure and synchronous: what to report without Redis
 */
export const heartbeat$ = <T>(
  periodMs: number,
  extend: () => Observable<T>,
  judge: () => readonly T[],
  scheduler: SchedulerLike = asyncScheduler,
): Observable<T> => {
  const ticks$ = interval(periodMs, scheduler).pipe(share());
  return merge(ticks$.pipe(mergeMap(() => judge())), ticks$.pipe(exhaustMap(extend)));
};
