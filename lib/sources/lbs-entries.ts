import { Observable, catchError, concatMap, defer, repeat, throwError } from 'rxjs';
import type { RawEntry } from '../codecs/lbs-message';
import { StreamTerminatedError } from '../errors';
import { RetryWithBackoffConfig, retryWithBackoff } from '../operators/retry-with-backoff';

/**
 * The LBS reader: reads new entries (XREADGROUP ... BLOCK, on a connection of its own), hands
 * each batch out and reads again once it is handed out. A failed read is retried with backoff;
 * when the retries run out it errors with `StreamTerminatedError`.
 *
 * @param read one XREADGROUP call; resolves [] when the block times out
 * @param handOut what to do with a batch (take locks, dead-letter bad entries)
 */
export const lbsEntries$ = <T>(
  read: () => Promise<readonly RawEntry[]>,
  handOut: (batch: readonly RawEntry[]) => Observable<T>,
  retry: RetryWithBackoffConfig,
): Observable<T> =>
  defer(read).pipe(
    concatMap(handOut),
    repeat(),
    retryWithBackoff(retry),
    catchError((cause: unknown) =>
      throwError(
        () =>
          new StreamTerminatedError(
            `The LBS reader stopped after ${retry.maxRetries} failed reads in a row (${cause instanceof Error ? cause.message : String(cause)}). Check Redis, or raise options.retry.maxRetries (-1 retries forever).`,
            { cause },
          ),
      ),
    ),
  );
