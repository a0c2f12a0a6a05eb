import { EMPTY, Observable, catchError, concat, concatMap, defer, filter, finalize, from, map, of, repeat, tap, throwError } from 'rxjs';
import { RawEntry, partitionEntries } from '../codecs/lbs-message';
import { deadLetter$ } from '../dead-letters';
import type { ClientDeps } from '../deps';
import { GroupMissingError, StreamTerminatedError } from '../errors';
import { RetryWithBackoffConfig, retryWithBackoff } from '../operators/retry-with-backoff';
import type { LbsSession } from '../port';
import { sortTakes } from '../rules/hand-out';
import { ownedInfo } from '../lease/ledger';
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
  const decoded = partitionEntries(batch, options.maxEntryBytes, deps.belongsHere);
  const { bad } = decoded;
  let good = decoded.good;
  let reserved = 0;
  const fences = new Map<string, number>();
  const locked$ = defer(() => {
    // Claims may have filled the room while the read was blocked: entries beyond it stay pending, lockless, for the reconciler of a consumer with room.
    reserved = ledger.reserve(decoded.good.length);
    good = decoded.good.slice(0, reserved);
    if (reserved < decoded.good.length) log.warn({ left: decoded.good.length - reserved, maxStreams: ledger.capacity }, 'read more new entries than there is room for; the rest is left to the reconciler of a consumer with room');
    if (good.length === 0) return EMPTY;
    const started = scheduler.now();
    const entries = good.map((e) => ({ lockKey: lockKeyOf(e.payload.dataStreamName, e.payload.idInLbs), name: e.payload.dataStreamName, id: e.payload.idInLbs }));
    return port.takeLocks(entries).pipe(
      tap((results) => good.forEach((e, i) => metrics.recordLockAcquisitionAttempt?.(e.payload.dataStreamName, results[i]!.kind === 'taken', scheduler.now() - started))),
      tap((results) => good.forEach((e, i) => {
        const result = results[i]!;
        if (result.kind === 'taken') fences.set(e.payload.idInLbs, result.fence);
      })),
      map((results) => sortTakes(good, results, batch)),
    );
  });
  return concat(deadLetter$(deps, bad), locked$).pipe(
    concatMap(({ taken, duplicates, refused }) => {
      for (const e of refused) log.warn({ stream: e.payload.dataStreamName, id: e.payload.idInLbs }, 'a new entry is held or taken over by another consumer (late read reply?); left to it');
      return concat(deadLetter$(deps, duplicates), from(taken));
    }),
    map((entry): StreamAdded => {
      const lease = ledger.take(entry.payload, entry.additionalInfo, fences.get(entry.payload.idInLbs));
      return { type: 'StreamAdded', payload: ownedInfo(lease), additionalInfo: lease.additionalInfo };
    }),
    finalize(() => ledger.unreserve(reserved)),
  );
};

/**
 * New LBS entries: XREADGROUP on the session's reader, handed out batch by batch (see `readLoop$`);
 * NOGROUP re-creates the group before the retry. Each read asks for at most the room this
 * consumer has left (`maxStreams`); with no room it waits until a stream is dropped, and the
 * entries wait in the LBS for consumers with room. Nothing is reserved while the read blocks, so
 * claims and sweeps may use the room meanwhile; the hand-out takes what is left.
 */
export const lbsEntries$ = (deps: LbsEntriesDeps): Observable<StreamAdded> => {
  const { session, options, scheduler, log, keys, ledger } = deps;
  const read$ = ledger.whenRoom().pipe(concatMap(() => session.readNew(Math.min(options.readCount, ledger.room()), options.hbInterval)));
  return readLoop$(read$, (batch) => handOut(deps, batch), {
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
