import { EMPTY, Observable, catchError, concat, concatMap, defer, filter, from, map, of, repeat, tap, throwError } from 'rxjs';
import { RawEntry, partitionEntries } from '../codecs/lbs-message';
import { deadLetter$ } from '../dead-letters';
import type { ClientDeps } from '../deps';
import { GroupMissingError, StreamTerminatedError } from '../errors';
import { RetryWithBackoffConfig, retryWithBackoff } from '../operators/retry-with-backoff';
import type { LbsSession } from '../port';
import { sortTakes } from '../rules/hand-out';
import type { StreamAdded } from '../types';

export interface LbsEntriesDeps extends Pick<ClientDeps, 'port' | 'keys' | 'ledger' | 'options' | 'scheduler' | 'log' | 'metrics' | 'lockKeyOf' | 'belongsHere'> {
  readonly session: Pick<LbsSession, 'readNew'>;
  /** Re-creates what a NOGROUP says is missing (the group, the epoch, the keyspace flags); never errors. */
  readonly recreateGroup: Observable<never>;
}

/** Marks a successful read, so that `retryWithBackoff` resets its count even when nothing is handed out. */
const READ_OK = { read: true } as const;

/**
 * The read loop: `read` one batch, hand it out, read again once it is handed out. A failed read
 * (or hand-out) is retried with backoff; every successful read (even an empty one) resets the
 * count, so only failures in a row count; when the retries run out it errors with
 * `StreamTerminatedError`.
 */
export const readLoop$ = <T>(read: Observable<readonly RawEntry[]>, handOut: (batch: readonly RawEntry[]) => Observable<T>, retry: RetryWithBackoffConfig): Observable<T> =>
  read.pipe(
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

/**
 * Hands out one batch: dead-letters the entries that do not decode, takes the locks of the others
 * in one script call, dead-letters duplicates (another entry handles the same data stream), and
 * announces the entries it locked. Entries held by another consumer are left to it.
 */
const handOut = (deps: LbsEntriesDeps, batch: readonly RawEntry[]): Observable<StreamAdded> => {
  const { port, ledger, options, scheduler, log, metrics, lockKeyOf } = deps;
  const { good, bad } = partitionEntries(batch, options.maxEntryBytes, deps.belongsHere);
  const locked$ = defer(() => {
    if (good.length === 0) return EMPTY;
    const started = scheduler.now();
    const entries = good.map((e) => ({ lockKey: lockKeyOf(e.payload.dataStreamName, e.payload.idInLbs), name: e.payload.dataStreamName, id: e.payload.idInLbs }));
    return port.takeLocks(entries).pipe(
      tap((results) => good.forEach((e, i) => metrics.recordLockAcquisitionAttempt?.(e.payload.dataStreamName, results[i]!.kind === 'taken', scheduler.now() - started))),
      map((results) => sortTakes(good, results, batch)),
    );
  });
  return concat(deadLetter$(deps, bad), locked$).pipe(
    concatMap(({ taken, duplicates, refused }) => {
      for (const e of refused) log.warn({ stream: e.payload.dataStreamName, id: e.payload.idInLbs }, 'a new entry is held or taken over by another consumer (late read reply?); left to it');
      return concat(deadLetter$(deps, duplicates), from(taken));
    }),
    map((entry): StreamAdded => {
      const lease = ledger.take(entry.payload, entry.additionalInfo);
      return { type: 'StreamAdded', payload: lease.payload, additionalInfo: lease.additionalInfo };
    }),
  );
};

/** New LBS entries: XREADGROUP on the session's reader, handed out batch by batch (see `readLoop$`); NOGROUP re-creates the group before the retry. */
export const lbsEntries$ = (deps: LbsEntriesDeps): Observable<StreamAdded> => {
  const { session, options, scheduler, log, keys } = deps;
  return readLoop$(session.readNew(options.readCount, options.hbInterval), (batch) => handOut(deps, batch), {
    ...options.retry,
    scheduler,
    onRetry: (err, attempt, delayMs) => log.warn({ err, attempt, delayMs }, 'LBS read failed; retrying'),
    beforeRetry: (err) => {
      if (!(err instanceof GroupMissingError)) return EMPTY;
      log.warn({ group: keys.group }, 'consumer group missing (Redis restarted?); re-creating it');
      return deps.recreateGroup;
    },
  });
};
