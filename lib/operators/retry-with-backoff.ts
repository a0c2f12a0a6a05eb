import { EMPTY, MonoTypeOperatorFunction, Observable, SchedulerLike, asyncScheduler, catchError, concat, ignoreElements, of, retry, switchMap, timer } from 'rxjs';

/** How `retryWithBackoff` waits between attempts. */
export interface RetryWithBackoffConfig {
  /** Retries in a row before the error goes through; -1 = forever, 0 = never. */
  readonly maxRetries: number;
  /** Delay before the first retry, ms; doubled at each further retry. */
  readonly initialDelay: number;
  /** Upper bound of any delay, ms. */
  readonly maxDelay: number;
  /** Runs after the delay and before the retry (re-create what the error says is missing); its failure is ignored. */
  readonly beforeRetry?: (error: unknown) => Observable<unknown>;
  /** Told of every retry, for logging. */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  readonly scheduler?: SchedulerLike;
}

/**
 * The delay before retry number `attempt` (1-based): `initialDelay * 2^(attempt-1)`, capped at `maxDelay`.
 *
 * @example
 * [1, 2, 3, 4].map((n) => backoffDelay(n, { initialDelay: 100, maxDelay: 500 })) // [100, 200, 400, 500]
 */
export const backoffDelay = (attempt: number, config: Pick<RetryWithBackoffConfig, 'initialDelay' | 'maxDelay'>): number =>
  Math.min(config.maxDelay, config.initialDelay * 2 ** Math.min(attempt - 1, 52));

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
