import { EMPTY, Observable, SchedulerLike, asyncScheduler, catchError, from, ignoreElements, interval, merge, mergeMap, of, share } from 'rxjs';
import type { Lease } from '../lease/ledger';
import type { LockManager } from '../lease/lock-manager';
import { toDisowned } from '../operators/to-disowned';
import type { LbsPort } from '../port';
import type { StreamDisowned } from '../types';

export interface HeartbeatDeps {
  readonly locks: Pick<LockManager, 'extend' | 'judge'>;
  readonly port: Pick<LbsPort, 'expireLock'>;
  /** hbInterval / 2. */
  readonly periodMs: number;
  readonly scheduler?: SchedulerLike;
}

/**
 * The heartbeat: ticks every `periodMs` (half the lock TTL). At every tick the lock manager's
 * `judge` decides locally which streams must be assumed lost (it needs no Redis, so it runs even
 * while an extension hangs), and `extend` extends every owned lock no extension in flight covers:
 * while a slow one runs, the next tick sends only the leases taken since (none: it sends nothing),
 * so slow Redis never piles up calls and a fresh claim is extended on time.
 * Emits `StreamDisowned` for every stream lost either way. Locks an extension kept alive for
 * streams dropped meanwhile are made to expire at once, so that the others hear of them.
 */
export const heartbeat$ = ({ locks, port, periodMs, scheduler = asyncScheduler }: HeartbeatDeps): Observable<StreamDisowned> => {
  const ticks$ = interval(periodMs, scheduler).pipe(share());
  const expire = (lease: Lease) => port.expireLock(lease.lockKey).pipe(catchError(() => EMPTY), ignoreElements());
  const lost$ = merge(
    ticks$.pipe(mergeMap(() => of(locks.judge()))),
    ticks$.pipe(
      mergeMap(() => locks.extend()),
      mergeMap(({ lost, strays }) => merge(of(lost), from(strays).pipe(mergeMap(expire)))),
    ),
  );
  return lost$.pipe(
    mergeMap((lost) => (lost.length === 0 ? EMPTY : of(lost))),
    toDisowned(),
  );
};
