import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { EMPTY, MonoTypeOperatorFunction, Observable, catchError, concatMap, defer, endWith, finalize, ignoreElements, map, mergeMap, of, range, reduce, retry, takeWhile, tap, throwError, timeout, timer } from 'rxjs';
import { decodeLbsEntry } from '../codecs/lbs-message';
import type { ClientDeps } from '../deps';
import { AlreadyClaimedError, AtCapacityError, NotOwnerError, StreamNotFoundError, asRedisError } from '../errors';
import { isSlotMoveError, slotMoveDelay } from '../rules/slot-move';
import type { Claimed, LbsInfo } from '../types';
import { ownedInfo } from './ledger';

/** Streams finished (or released) at once by `done()` and `shutdown()`; finishes in one turn share a script call. */
const STOP_CONCURRENCY = 1000;
/** Reads of a handed-back lock until Redis deletes it, each `EXPIRE_READ_MS` after the previous one. */
const EXPIRE_READS = 5;
const EXPIRE_READ_MS = 2;
/** How long `doneStream` goes on sending a call a Cluster refuses while it moves the stream's slot (the heartbeat keeps the lock meanwhile). */
const SLOT_MOVE_BUDGET_MS = 30_000;

type Deps = Pick<ClientDeps, 'port' | 'ledger' | 'options' | 'scheduler' | 'log' | 'metrics' | 'lockKeyOf' | 'expiries'>;

/**
 * Sends the call again while a Cluster refuses it because it is moving the slot of its keys key by
 * key (TRYAGAIN, which ioredis retries only for about 1.6 s), with a backoff, for at most
 * `budgetMs` and while `worthIt()`; any other error, or one past the budget, goes through.
 */
const whileSlotMoves = <T>({ scheduler, log }: Pick<Deps, 'scheduler' | 'log'>, stream: string, budgetMs: number, worthIt: () => boolean): MonoTypeOperatorFunction<T> =>
  (call$) =>
    defer(() => {
      const startedAt = scheduler.now();
      return call$.pipe(
        retry({
          delay: (err: unknown, attempt: number) => {
            const delay = isSlotMoveError(err) && worthIt() ? slotMoveDelay(attempt, startedAt, scheduler.now(), budgetMs) : undefined;
            if (delay === undefined) return throwError(() => err);
            if (attempt === 1) log.info({ stream }, 'the Cluster is moving this stream\'s slot: trying again');
            return timer(delay, scheduler);
          },
        }),
      );
    });

/**
 * `client.claim(info)`: takes over a stream that lost its owner; one value, or `AlreadyClaimedError`
 * (`AtCapacityError` when this consumer owns `maxStreams`, a place being reserved while the claim
 * runs).
 */
export const claim = (deps: Deps, info: LbsInfo): Observable<Claimed> => {
  const { port, ledger, options, scheduler, log, metrics, lockKeyOf, expiries } = deps;
  const name = info.dataStreamName;
  return defer(() => {
    if (ledger.holds(name, info.idInLbs)) return throwError(() => new AlreadyClaimedError(name, info.idInLbs));
    if (ledger.reserve(1) === 0) return throwError(() => new AtCapacityError(name, ledger.capacity));
    const started = scheduler.now();
    return port.claim(lockKeyOf(name, info.idInLbs), info.idInLbs, options.hbInterval, name).pipe(
      finalize(() => ledger.unreserve(1)),
      catchError((err: unknown) => throwError(() => asRedisError(`Claiming stream "${name}"`)(err))),
      map((result) => {
        const won = result.kind === 'claimed';
        metrics.recordClaimAttempt?.(name, won, scheduler.now() - started);
        metrics.recordLockAcquisitionAttempt?.(name, won, scheduler.now() - started);
        const sinceExpiry = expiries?.since(info);
        if (won && sinceExpiry !== undefined) metrics.recordTakeover?.(name, sinceExpiry);
        if (result.kind !== 'claimed') throw new AlreadyClaimedError(name, info.idInLbs);
        const additionalInfo = pipe(
          decodeLbsEntry({ id: info.idInLbs, fields: result.fields }, Infinity),
          E.fold(
            () => ({}),
            (entry) => entry.additionalInfo,
          ),
        );
        const lease = ledger.take(info, additionalInfo, result.fence, true);
        log.info({ stream: name, id: info.idInLbs, fence: result.fence }, 'claimed stream');
        return { payload: ownedInfo(lease), additionalInfo };
      }),
    );
  });
};

/** `client.doneStream(name)`: release the lock, XACK and XDEL, atomically (see lua/finish-n.lua); sent again while a Cluster moves the stream's slot. */
export const doneStream = (deps: Deps, name: string): Observable<void> => {
  const { port, ledger, log, metrics } = deps;
  return defer(() => {
    const lease = ledger.get(name);
    if (lease === undefined) return throwError(() => new StreamNotFoundError(name));
    return port.finish(lease.lockKey, lease.payload.idInLbs, name).pipe(
      whileSlotMoves(deps, name, SLOT_MOVE_BUDGET_MS, () => ledger.isCurrent(lease)),
      catchError((err: unknown) => throwError(() => asRedisError(`Finishing stream "${name}"`)(err))),
      map((result) => {
        ledger.drop(lease);
        metrics.recordLockReleaseAttempt?.(name, result.kind === 'finished', 'done');
        if (result.kind === 'held') throw new NotOwnerError(name, result.holder);
        if (result.kind === 'not-pending') throw new NotOwnerError(name, result.holder ?? 'nobody (the entry was finished by another consumer)');
        log.debug({ stream: name, id: lease.payload.idInLbs }, 'stream done');
      }),
    );
  });
};

/**
 * `client.release(name)`: drops the stream here and makes its lock expire, so every other consumer
 * hears an ordinary `expired` event. The lock is set to expire once the stream was held for one TTL
 * (XCLAIM's min-idle = hbInterval refuses an entry delivered or claimed more recently, so every
 * claimer would lose), in the same call that takes it out of the lock set: the heartbeat no longer
 * extends it, and a lock left as it was could lapse before. Then, at that time, it reads the lock
 * until Redis deletes it (the read makes Redis delete a lock past its TTL at once and publish
 * `expired`).
 */
export const release = (deps: Deps, name: string): Observable<void> => {
  const { port, ledger, options, scheduler, log, metrics } = deps;
  return defer(() => {
    const lease = ledger.get(name);
    if (lease === undefined) return throwError(() => new StreamNotFoundError(name));
    ledger.handBack(lease);
    const untilClaimable = Math.max(0, lease.since.getTime() + options.hbInterval - scheduler.now());
    const deleted$ = range(0, EXPIRE_READS).pipe(
      concatMap(() => timer(EXPIRE_READ_MS, scheduler).pipe(concatMap(() => port.touchLock(lease.lockKey)))),
      takeWhile((ttl) => ttl >= 0),
      ignoreElements(),
    );
    return port.expireLock(lease.lockKey, untilClaimable).pipe(
      // Past one TTL the lock has lapsed anyway (the heartbeat stopped extending it at handBack).
      whileSlotMoves(deps, name, options.hbInterval, () => true),
      concatMap((ours) => (ours ? timer(untilClaimable, scheduler).pipe(concatMap(() => deleted$), endWith(ours)) : of(ours))),
      catchError((err: unknown) => {
        ledger.forgetHandBack(lease.lockKey);
        return throwError(() => asRedisError(`Releasing stream "${name}"`)(err));
      }),
      map((ours) => {
        if (!ours) ledger.forgetHandBack(lease.lockKey);
        metrics.recordLockReleaseAttempt?.(name, ours, 'release');
        log.info({ stream: name, id: lease.payload.idInLbs, handedBack: ours }, 'released stream');
      }),
    );
  });
};

/**
 * `done()` and `shutdown()`: takes no stream any more and lets the takes in flight end (a claim,
 * a hand-out or a sweep that reserved its place before; at most one hbInterval), then `finish`es
 * (doneStream or release) every owned stream, then `stop()`; errors with the first failure other
 * than a stream another consumer took meanwhile (logged only).
 */
export const finishAll = (deps: Pick<ClientDeps, 'ledger' | 'log' | 'port' | 'options' | 'scheduler'>, finish: (name: string) => Observable<void>, stop: () => void): Observable<void> =>
  defer(() => {
    deps.ledger.close();
    return deps.ledger.whenSettled().pipe(timeout({ first: deps.options.hbInterval, scheduler: deps.scheduler, with: () => of(undefined) }));
  }).pipe(
    concatMap(() => deps.ledger.all()),
    mergeMap(
      (lease) =>
        finish(lease.payload.dataStreamName).pipe(
          ignoreElements(),
          catchError((err: unknown) => {
            deps.log.warn({ err, stream: lease.payload.dataStreamName }, 'could not finish or release a stream while stopping');
            return err instanceof NotOwnerError || err instanceof StreamNotFoundError ? EMPTY : of(err);
          }),
        ),
      STOP_CONCURRENCY,
    ),
    reduce((first: unknown, err: unknown) => first ?? err, undefined as unknown),
    // The consumer's deadline and lock set go too, unless a stream could not be finished.
    concatMap((failure) =>
      deps.port.leave().pipe(
        catchError((err: unknown) => {
          deps.log.warn({ err }, 'could not remove this consumer from the reaper\'s deadlines while stopping');
          return of(false);
        }),
        map(() => failure),
      ),
    ),
    tap(() => stop()),
    map((failure) => {
      if (failure !== undefined) throw failure;
    }),
  );
