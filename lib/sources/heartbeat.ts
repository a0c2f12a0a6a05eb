import { Observable, SchedulerLike, asyncScheduler, exhaustMap, interval } from 'rxjs';

/**
 * Ticks every `periodMs` (half the lock TTL) and runs `extend` for all owned locks at once. A tick
 * that is still running when the next one is due makes that one skip, so slow Redis never piles up calls.
 *
 * @param extend one round trip per chunk of locks; emits that tick's results
 */
export const heartbeat$ = <T>(periodMs: number, extend: () => Observable<T>, scheduler: SchedulerLike = asyncScheduler): Observable<T> =>
  interval(periodMs, scheduler).pipe(exhaustMap(extend));
