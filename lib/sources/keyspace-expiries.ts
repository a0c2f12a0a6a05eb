import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { EMPTY, Observable, catchError, filter, map, mergeMap, of, tap, throwError } from 'rxjs';
import { decodeLbsEntry } from '../codecs/lbs-message';
import type { ClientDeps } from '../deps';
import { asRedisError } from '../errors';
import { parseLockKey as goLockKey } from '../keys';
import type { LbsSession } from '../port';
import type { LbsInfo, StreamExpired } from '../types';

export interface KeyspaceExpiriesDeps extends Pick<ClientDeps, 'port' | 'ledger' | 'log' | 'metrics' | 'parseLockKey'> {
  readonly session: Pick<LbsSession, 'expiredLockKeys$'>;
}

/** Whose an expired lock was, from this consumer's point of view. */
type Expiry =
  | { readonly kind: 'own' | 'ignored' }
  /** A lock this consumer handed back (`release`): its one expiry is for the others. */
  | { readonly kind: 'handed-back'; readonly lockKey: string }
  | { readonly kind: 'other'; readonly key: LbsInfo };

/**
 * `StreamExpired` for every lock of this service that expired (keyspace notifications), except
 * this consumer's own current locks (its heartbeat decides those) and the one expiry of a lock it
 * handed back. The expired lock's LBS entry is read (lookups of one event-loop turn share one
 * pipeline): only an entry of this service's LBS with the same name is reported, with its `Info`.
 * Errors with `RedisCommandError` when the subscription is refused.
 */
export const keyspaceExpiries$ = ({ session, port, ledger, log, metrics, parseLockKey = goLockKey }: KeyspaceExpiriesDeps): Observable<StreamExpired> => {
  const classify = (lockKey: string): Expiry => {
    const key = parseLockKey(lockKey);
    if (key === undefined) return { kind: 'ignored' };
    if (ledger.holds(key.dataStreamName, key.idInLbs)) return { kind: 'own' };
    return ledger.isHandedBack(lockKey) ? { kind: 'handed-back', lockKey } : { kind: 'other', key };
  };
  const describe = (key: LbsInfo): Observable<StreamExpired> =>
    port.entry(key.idInLbs).pipe(
      mergeMap((raw) => {
        if (raw === null) return EMPTY;
        return pipe(
          decodeLbsEntry(raw, Infinity),
          E.fold(
            () => EMPTY,
            (entry) => {
              if (entry.payload.dataStreamName !== key.dataStreamName) return EMPTY;
              metrics.recordKspNotification?.(key.dataStreamName);
              return of<StreamExpired>({ type: 'StreamExpired', payload: entry.payload, additionalInfo: entry.additionalInfo });
            },
          ),
        );
      }),
      catchError((err: unknown) => {
        metrics.recordKspNotificationDropped?.();
        log.warn({ err, stream: key.dataStreamName }, 'could not read the LBS entry of an expired lock');
        return EMPTY;
      }),
    );
  return session.expiredLockKeys$.pipe(
    map(classify),
    tap((expiry) => {
      if (expiry.kind === 'handed-back') ledger.forgetHandBack(expiry.lockKey);
    }),
    filter((expiry): expiry is Extract<Expiry, { kind: 'other' }> => expiry.kind === 'other'),
    mergeMap((expiry) => describe(expiry.key)),
    catchError((err: unknown) => throwError(() => asRedisError('Subscribing to keyspace notifications')(err))),
  );
};
