import { EMPTY, Observable, OperatorFunction, catchError, map, mergeMap, of } from 'rxjs';
import { AlreadyClaimedError, AtCapacityError } from '../errors';
import type { Claimed, LbsInfo, Notification, OwnershipNotification, StreamClaimed } from '../types';

/**
 * What `claimExpired` needs of a client (a `RedisStreamClient` fits; tests pass a stub of cold Observables).
 * @example
 * const claimer: Claimer = { claim: (info) => client.claim(info) }; // a RedisStreamClient is one
 * client.init().pipe(claimExpired(claimer)).subscribe();
 */
export interface Claimer {
  /** As `RedisStreamClient.claim`: one value, or `AlreadyClaimedError`. */
  claim(info: LbsInfo): Observable<Claimed>;
}

/**
 * Options of `claimExpired`.
 *
 * ## Example
 * ```ts
 * client.init().pipe(claimExpired(client, { onError: (err, s) => log.warn({ err, stream: s.dataStreamName }, 'claim failed') }));
 * ```
 */
export interface ClaimExpiredConfig {
  /** Told of claims that failed for another reason than a lost race or a full consumer (Redis down...). Default: ignored; the recovery sweep takes the stream later. */
  readonly onError?: (error: unknown, expired: LbsInfo) => void;
}

/**
 * Turns every `StreamExpired` into a claim attempt and emits `StreamClaimed` for the claims this
 * consumer won. Losing a race (`AlreadyClaimedError`) or being full (`AtCapacityError`: a
 * consumer with room takes it) is not an error and emits nothing; other
 * notifications pass through untouched. A failed claim never ends the stream.
 *
 * ## Example
 * ```ts
 * client.init().pipe(claimExpired(client), ofType('StreamAdded', 'StreamClaimed'))
 *   .subscribe((n) => console.log('now mine:', n.payload.dataStreamName));
 * ```
 */
export function claimExpired(client: Claimer, config: ClaimExpiredConfig = {}): OperatorFunction<Notification, OwnershipNotification> {
  return mergeMap((n): Observable<OwnershipNotification> => {
    if (n.type !== 'StreamExpired') return of(n);
    return client.claim(n.payload).pipe(
      map((claimed): StreamClaimed => ({ type: 'StreamClaimed', payload: claimed.payload, additionalInfo: claimed.additionalInfo })),
      catchError((err: unknown) => {
        if (!(err instanceof AlreadyClaimedError) && !(err instanceof AtCapacityError)) config.onError?.(err, n.payload);
        return EMPTY;
      }),
    );
  });
}
