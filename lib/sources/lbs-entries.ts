import { Observable, catchError, concat, concatMap, defer, filter, map, of, repeat, throwError } from 'rxjs';
import type { RawEntry } from '../codecs/lbs-message';
import { StreamTerminatedError } from '../errors';
import { RetryWithBackoffConfig, retryWithBackoff } from '../operators/retry-with-backoff';

/**
 * The LBS reader: reads new entries (XREADGROUP ... BLOCK, on a connection of its own), hands
 * each batch out and reads again once it is handed out. A failed read is retried with backoff;
 * every successful read (even an empty one) resets the count, so only failures in a row count;
 * when the retries run out it errors with `StreamTerminatedError`.
 *
 * @param read one XREADGROUP call; resolves [] when the block times out
 * @param handOut what to do with a batch (take locks, dead-letter bad entries)
 */
/** Marks a successful read, so that `retryWithBackoff` resets its count even when nothing is handed out. */
const READ_OK = { read: true } as const;

export const lbsEntries$ = <T>(
  read: () => Promise<readonly RawEntry[]>,
  handOut: (batch: readonly RawEntry[]) => Observable<T>,
  retry: RetryWithBackoffConfig,
): Observable<T> =>
  defer(read).pipe(
    concatMap((batch) => concat(of(READ_OK), handOut(batch).pipe(map((value) => ({ value }))))),
    repeat(),
    retryWithBackoff(retry),
    filter((e): e is { value: T } => e !== READ_OK),
    map((e) => e.value),
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
