import { EMPTY, MonoTypeOperatorFunction, Observable, SchedulerLike, asyncScheduler, catchError, concat, ignoreElements, of, retry, switchMap, timer } from 'rxjs';
import { BackoffConfig, backoffDelay } from '../rules/backoff';

export { backoffDelay };

/**
 * How `retryWithBackoff` waits between attempts.
 * @example
 * const config: RetryWithBackoffConfig = { maxRetries: 5, initialDelay: 100, maxDelay: 30_000, onRetry: (err, attempt, ms) => console.warn(attempt, ms, err) };
 * from(redis.xlen(lbsKey('my-service'))).pipe(retryWithBackoff(config)).subscribe(console.log);
 */
export interface RetryWithBackoffConfig extends BackoffConfig {
  /** Retries in a row before the error goes through; -1 = forever, 0 = never. */
  readonly maxRetries: number;
  /** Runs after the delay and before the retry (re-create what the error says is missing); its failure is ignored. */
  readonly beforeRetry?: (error: unknown) => Observable<unknown>;
  /** Told of every retry, for logging. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  readonly scheduler?: SchedulerLike;
}

/**
 * Resubscribes to the source after an error, with exponential backoff; the count of retries
 * resets whenever the source emits, so only failures in a row count.
 *
 * ## Example
 * ```ts
 * readBatch$.pipe(retryWithBackoff({ maxRetries: 5, initialDelay: 100, maxDelay: 30_000 }))
 * ```
 * @see backoffDelay
 */
export function retryWithBackoff<T>(config: RetryWithBackoffConfig): MonoTypeOperatorFunction<T> {
  const scheduler = config.scheduler ?? asyncScheduler;
  return retry<T>({
    count: config.maxRetries < 0 ? Infinity : config.maxRetries,
    resetOnSuccess: true,
    delay: (error, attempt) => {
      const delayMs = backoffDelay(attempt, config);
      config.onRetry?.(error, attempt, delayMs);
      const prepare = config.beforeRetry?.(error).pipe(ignoreElements(), catchError(() => EMPTY)) ?? EMPTY;
      return timer(delayMs, scheduler).pipe(switchMap(() => concat(prepare, of(attempt))));
    },
  });
}
