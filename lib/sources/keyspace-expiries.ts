import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { EMPTY, Observable, catchError, filter, finalize, map, mergeMap, of, tap, throwError } from 'rxjs';
import { decodeLbsEntry } from '../codecs/lbs-message';
import type { ClientDeps } from '../deps';
import { asRedisError } from '../errors';
import { Hold, mergeWithWaitingRoom } from '../operators/merge-with-waiting-room';
import { lockKey as goLockKeyOf, parseLockKey as goLockKey } from '../keys';
import type { LbsSession } from '../port';
import type { Fleet } from '../lease/fleet';
import type { LockManager } from '../lease/lock-manager';
import type { LbsInfo, StreamExpired } from '../types';
import type { SchedulerLike } from 'rxjs';

export interface KeyspaceExpiriesDeps extends Pick<ClientDeps, 'port' | 'ledger' | 'log' | 'metrics' | 'expiries' | 'parseLockKey' | 'options'>, Partial<Pick<ClientDeps, 'lockKeyOf'>> {
  readonly session: Pick<LbsSession, 'expiredLockKeys$'>;
  /** The balance: how long to hold an expiry back (absent: never). */
  readonly fleet?: Pick<Fleet, 'claimDelay' | 'full'>;
  /** The heartbeat: while it is strained, expiries wait before they are reported (absent: never). */
  readonly locks?: Pick<LockManager, 'strained'>;
  readonly scheduler?: SchedulerLike;
}

/** Heartbeat intervals a consumer at its share plus the tolerance leaves a lockless stream to the others before it takes it all the same. */
const MAX_HOLD_HEARTBEATS = 4;

/** An expiry on its way: how long it was held back so far, and whether the lock is read next (it was found gone, and this consumer full). */
interface Held {
  readonly key: LbsInfo;
  readonly waited: number;
  readonly touch: boolean;
  /** The shortest delay the fleet gave it so far (absent: not asked yet). */
  readonly delay?: number;
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
 * In a balanced fleet the expiry is reported at once to the stream's designated claimer and held
 * back from the others (`Fleet.claimDelay`: longer the more loaded they are); after the delay it
 * is reported only if the lock is still gone, so streams go to the under-loaded consumers and the
 * others do not send claims that would lose. The entry is read only for an expiry about to be
 * reported: when a consumer holding many streams dies, each survivor reads the entries of its own
 * part of them, not of all. While the heartbeat falls behind (`LockManager.strained`) every
 * expiry waits, a quarter of a heartbeat at a time: the locks this consumer holds come before the
 * ones it could take. Errors with `RedisCommandError` when the subscription is refused.
 */
export const keyspaceExpiries$ = ({ session, port, ledger, options, log, metrics, expiries, parseLockKey = goLockKey, lockKeyOf: lockKeyOfEntry = goLockKeyOf, fleet, locks, scheduler }: KeyspaceExpiriesDeps): Observable<StreamExpired> => {
  const lockKeyOf = (info: LbsInfo): string => lockKeyOfEntry(info.dataStreamName, info.idInLbs);
  /** Expiries reported at once whose entries are being read: claims on their way, counted as held by the balance. */
  let underWay = 0;
  /** Reported now; after a wait only if the lock is still gone (PTTL -2). The entry is read then. */
  const report = (key: LbsInfo, waited: number, hold: Hold<Held>): Observable<StreamExpired> => {
    if (waited === 0) {
      underWay++;
      return describe(key).pipe(finalize(() => underWay--));
    }
    return port.touchLock(lockKeyOf(key)).pipe(
      catchError(() => of(-2)),
      mergeMap((ttl) => {
        if (ttl !== -2) return EMPTY;
        // Full by now (share + tolerance): another member takes it, unless nobody did for MAX_HOLD_HEARTBEATS.
        if (fleet?.full(underWay) && waited < MAX_HOLD_HEARTBEATS * options.hbInterval) {
          hold({ key, waited: waited + options.hbInterval / 2, touch: true }, options.hbInterval / 2);
          return EMPTY;
        }
        return describe(key);
      }),
    );
  };
  /**
   * At once, or after the fleet's delay, asked again every heartbeat period meanwhile (each view
   * can shorten it: after a mass failover the survivors' shares grow once the dead member leaves
   * the view, and they go on at once then). An expiry held back is a record in the waiting room,
   * not a timer of its own.
   */
  /** Whether expiries were waiting for the heartbeat at the last look (logged when that changes). */
  let strained = false;
  const giveWay = (held: Held, hold: Hold<Held>): Observable<StreamExpired> => {
    const { key, waited, touch } = held;
    if (locks?.strained() === true) {
      if (!strained) log.info({ owned: ledger.size }, 'heartbeat falling behind: expiries wait before they are claimed');
      strained = true;
      hold(held, options.hbInterval / 4);
      return EMPTY;
    }
    if (strained) log.info({ owned: ledger.size }, 'heartbeat on time again: expiries go on');
    strained = false;
    if (touch) return report(key, waited, hold);
    // Each view may shorten the delay, never lengthen it: views read at different moments differ, and
    // a stream whose delay grew at every member's next look waited for the longest of them.
    const delay = Math.min(held.delay ?? Infinity, fleet?.claimDelay(key.dataStreamName, underWay) ?? 0);
    if (delay <= waited) return report(key, waited, hold);
    const step = Math.min(delay - waited, options.hbInterval / 2);
    hold({ key, waited: waited + step, touch: false, delay }, step);
    return EMPTY;
  };
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
              expiries?.heard(entry.payload);
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
    map((expiry): Held => ({ key: expiry.key, waited: 0, touch: false })),
    mergeWithWaitingRoom(giveWay, { scheduler }),
    catchError((err: unknown) => throwError(() => asRedisError('Subscribing to keyspace notifications')(err))),
  );
};
