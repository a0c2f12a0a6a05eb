import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import {
  EMPTY,
  Observable,
  Subject,
  catchError,
  defer,
  filter,
  from,
  lastValueFrom,
  ignoreElements,
  map,
  mergeMap,
  reduce,
  tap,
  timeout,
  timer,
} from 'rxjs';
import { LbsEntry, RawEntry, decodeLbsEntry } from './codecs/lbs-message';
import { resolveOptions } from './codecs/options';
import {
  AlreadyClaimedError,
  ClientClosedError,
  InvalidOptionsError,
  KeyspaceConfigError,
  NotOwnerError,
  StreamNotFoundError,
  asRedisError,
} from './errors';
import { notifications$ } from './notifications';
import { partitionEntries } from './operators/decode-entries';
import { HeartbeatResult, toDisowned } from './operators/to-disowned';
import { OwnedStream, Ownership } from './ownership';
import { RedisConnection, SessionConnections, dbOf, whenReady } from './redis/connections';
import { consumerName, lockKey, parseLockKey } from './redis/keys';
import { LockStatus } from './redis/scripts';
import { LbsStore } from './redis/store';
import { heartbeat$ } from './sources/heartbeat';
import { keyspaceExpiries$ } from './sources/keyspace-expiries';
import { lbsEntries$ } from './sources/lbs-entries';
import { RecoveryPort, SweepConfig, recoverySweep$, sweepOnce$, sweepPage } from './sources/recovery-sweep';
import { lockReaper$, reconciler$ } from './sources/reconciler';
import { assumeLost } from './operators/assume-lost';
import type { Claimed, ClientOptions, LbsInfo, Notification, ResolvedOptions, StreamAdded, StreamExpired } from './types';

/** Streams finished (or released) at once by `done()` and `shutdown()`; finishes in one turn share a script call. */
const DONE_CONCURRENCY = 1000;
/** Most overdue consumers one reap looks at. */
const REAP_LIMIT = 100;

/**
 * One consumer of a service: hands it data streams from the service's load-balancer stream,
 * keeps their locks alive, and tells it when another consumer's stream needs a new owner.
 *
 * ## Example
 * ```ts
 * const client = new RedisStreamClient(new Redis(), 'my-service', { consumerId: 'worker-1' });
 * client.init().pipe(
 *   mergeMap((n) => (n.type === 'StreamExpired' ? client.claim(n.payload).pipe(catchError(() => EMPTY)) : of(n))),
 * ).subscribe(console.log);
 * ```
 */
export class RedisStreamClient {
  /** This consumer's name in the group and in lock values: `redis-consumer-<id>`. */
  readonly id: string;
  private readonly options: ResolvedOptions;
  private readonly store: LbsStore;
  private readonly ownership = new Ownership();
  /** Locks this consumer handed back with `release` (lock key -> entry id, when): their expiry and their entry are for the others. */
  private readonly released = new Map<string, { readonly id: string; readonly at: number }>();
  private readonly stop$ = new Subject<void>();
  private readonly notifications$: Observable<Notification>;
  private closed = false;
  /** Heartbeat clock: when the last tick ran, and since when extensions have been failing. */
  private lastTickAt = Date.now();
  private failingSince: number | undefined;
  /** Whether CONFIG was refused at the last check (warned once, not at every reconciler turn). */
  private keyspaceRefused = false;
  /** Where the reconciler's next page of the pending list starts. */
  private reconcileCursor = '-';

  /**
   * @param redis an ioredis connection; the client uses it for commands and `duplicate()`s it for
   *   the blocking reader and the keyspace subscriber (those it closes itself; this one stays yours)
   * @param service the service name: keys are `<service>-input`, `<service>-group`, `<service>-dead`
   * @param options validated at once: throws `InvalidOptionsError` or `ConsumerIdMissingError`
   */
  constructor(private readonly redis: RedisConnection, readonly service: string, options: ClientOptions = {}) {
    if (typeof service !== 'string' || service.length === 0) {
      throw new InvalidOptionsError('The service name must be a non-empty string (it prefixes the LBS keys).');
    }
    this.options = pipe(
      resolveOptions(options, process.env),
      E.getOrElseW((err) => {
        throw err;
      }),
    );
    this.id = consumerName(this.options.consumerId);
    this.store = new LbsStore(redis, service, this.id, this.options.hbInterval);
    this.notifications$ = this.compose();
  }

  /**
   * The notification stream, shared by every subscriber. Nothing starts until the first
   * subscription; it completes after `done()` and errors with a typed error when start-up fails
   * or the LBS reader runs out of retries.
   */
  init(): Observable<Notification> {
    return this.notifications$;
  }

  /**
   * Takes over a stream that lost its owner (from `StreamExpired`): one value, then complete.
   * Errors with `AlreadyClaimedError` when another consumer holds it or won the race.
   */
  claim(info: LbsInfo): Observable<Claimed> {
    return defer(async () => {
      if (this.ownership.holds(info.dataStreamName, info.idInLbs)) throw new AlreadyClaimedError(info.dataStreamName, info.idInLbs);
      const started = Date.now();
      const lock = lockKey(info.dataStreamName, info.idInLbs);
      const result = await this.store.claim(lock, info.idInLbs, this.options.hbInterval).catch((err: unknown) => {
        throw asRedisError(`Claiming stream "${info.dataStreamName}"`)(err);
      });
      const won = result.kind === 'claimed';
      this.options.metrics.recordClaimAttempt?.(info.dataStreamName, won, Date.now() - started);
      this.options.metrics.recordLockAcquisitionAttempt?.(info.dataStreamName, won, Date.now() - started);
      if (result.kind !== 'claimed') throw new AlreadyClaimedError(info.dataStreamName, info.idInLbs);
      const additionalInfo = pipe(
        decodeLbsEntry({ id: info.idInLbs, fields: result.fields }, Infinity),
        E.fold(
          () => ({}),
          (entry) => entry.additionalInfo,
        ),
      );
      const owned = this.own({ payload: info, additionalInfo });
      this.log().info({ stream: info.dataStreamName, id: info.idInLbs }, 'claimed stream');
      return { payload: owned.payload, additionalInfo };
    });
  }

  /**
   * Finishes a stream this consumer owns: releases its lock, XACK and XDEL of its LBS entry, in
   * one atomic step. Errors with `StreamNotFoundError` when this consumer does not own it, and with
   * `NotOwnerError` (nothing acknowledged) when another consumer took it meanwhile.
   */
  doneStream(name: string): Observable<void> {
    return defer(async () => {
      const owned = this.ownership.get(name);
      if (owned === undefined) throw new StreamNotFoundError(name);
      const result = await this.store.finish(owned.lockKey, owned.payload.idInLbs, name).catch((err: unknown) => {
        throw asRedisError(`Finishing stream "${name}"`)(err);
      });
      this.ownership.drop(owned);
      this.options.metrics.recordLockReleaseAttempt?.(name, result.kind === 'finished');
      this.options.metrics.recordStreamProcessingEnd?.(name, owned.since);
      if (result.kind === 'held') throw new NotOwnerError(name, result.holder);
      if (result.kind === 'not-pending') throw new NotOwnerError(name, result.holder ?? 'nobody (the entry was finished by another consumer)');
      this.log().debug({ stream: name, id: owned.payload.idInLbs }, 'stream done');
    });
  }

  /**
   * Finishes every owned stream (as `doneStream`), then stops: `notifications$` completes, and no
   * timer, connection or subscription of this client is left. Errors with the first Redis failure
   * (after stopping); streams another consumer took meanwhile are only logged.
   */
  done(): Observable<void> {
    return this.finishAll((name) => this.doneStream(name));
  }

  private finishAll(finish: (name: string) => Observable<void>): Observable<void> {
    return defer(() =>
      from(this.ownership.all()).pipe(
        mergeMap(
          (owned) =>
            finish(owned.payload.dataStreamName).pipe(
              map((): unknown => undefined),
              catchError((err: unknown) => {
                this.log().warn({ err, stream: owned.payload.dataStreamName }, 'could not finish or release a stream while stopping');
                return [err instanceof NotOwnerError || err instanceof StreamNotFoundError ? undefined : err];
              }),
            ),
          DONE_CONCURRENCY,
        ),
        reduce((first: unknown, err: unknown) => first ?? err, undefined as unknown),
        map((failure) => {
          this.stop();
          if (failure !== undefined) throw failure;
        }),
      ),
    );
  }

  /**
   * Hands a stream back **without** acknowledging it: drops it here and makes its lock expire at
   * once, so every other consumer (Go ones too) hears an ordinary `StreamExpired` and one of them
   * claims it. This consumer ignores that expiry. Errors with `StreamNotFoundError` when it does
   * not own the stream.
   *
   * ## Example
   * ```ts
   * client.release('session-42').subscribe(); // someone else will take it over
   * ```
   */
  release(name: string): Observable<void> {
    return defer(async () => {
      const owned = this.ownership.get(name);
      if (owned === undefined) throw new StreamNotFoundError(name);
      this.ownership.drop(owned);
      this.options.metrics.recordStreamProcessingEnd?.(name, owned.since);
      this.released.set(owned.lockKey, { id: owned.payload.idInLbs, at: Date.now() });
      // XCLAIM (min-idle = hbInterval) cannot take an entry delivered or claimed less than one
      // heartbeat ago: wait until it can, or every claimer would lose and the stream would wait for a sweep.
      await lastValueFrom(timer(Math.max(0, owned.since.getTime() + this.options.hbInterval - Date.now())));
      const ours = await this.store.expireLock(owned.lockKey).catch((err: unknown) => {
        this.released.delete(owned.lockKey);
        throw asRedisError(`Releasing stream "${name}"`)(err);
      });
      if (!ours) this.released.delete(owned.lockKey);
      this.options.metrics.recordLockReleaseAttempt?.(name, ours);
      this.log().info({ stream: name, id: owned.payload.idInLbs, handedBack: ours }, 'released stream');
    });
  }

  /**
   * Graceful shutdown: hands every owned stream back unfinished (as `release`), so the rest of the
   * fleet takes them over within milliseconds, then stops like `done()`. Use it when work in
   * progress must continue elsewhere; use `done()` (Go semantics) when every owned stream is
   * finished.
   */
  shutdown(): Observable<void> {
    return this.finishAll((name) => this.release(name));
  }

  private stop(): void {
    this.closed = true;
    this.stop$.next();
    this.log().info({}, 'client stopped');
  }

  private compose(): Observable<Notification> {
    return notifications$(
      () => new SessionConnections(this.redis, (role, err) => this.log().debug({ err, role }, 'connection error')),
      (connections) => ({
        startup$: this.startup$(connections),
        expired$: this.expired$(connections),
        reaped$: lockReaper$(this.options.reapInterval, () => this.reap()),
        recovered$: this.recovered$(),
        reconciled$: reconciler$(this.options.reconcileInterval, () => this.reconcile()),
        added$: this.added$(connections),
        disowned$: heartbeat$(this.options.hbInterval / 2, () => this.beat(), () => this.judge()).pipe(toDisowned()),
      }),
      this.stop$,
    );
  }

  private startup$(connections: SessionConnections): Observable<never> {
    return defer(async () => {
      if (this.closed) throw new ClientClosedError();
      await this.applyKeyspaceFlags();
      await this.warnIfLocksCanBeEvicted();
      await this.store.createGroup().catch((err: unknown) => {
        throw asRedisError(`Creating consumer group ${this.store.group}`)(err);
      });
      await connections.openReader(this.options.hbInterval).catch((err: unknown) => {
        throw asRedisError('Opening the LBS reader connection')(err);
      });
      this.log().info({ consumer: this.id, service: this.service, hbInterval: this.options.hbInterval }, 'client started');
    }).pipe(ignoreElements());
  }

  /** Locks are volatile keys: a `volatile-*` or `allkeys-*` policy can evict them, which fires no `expired` event. */
  private async warnIfLocksCanBeEvicted(): Promise<void> {
    const eviction = await this.store.evictionPolicy();
    if (eviction === undefined || eviction.maxmemory === 0 || eviction.policy === 'noeviction') return;
    this.log().warn(
      { maxmemory: eviction.maxmemory, policy: eviction.policy },
      `maxmemory-policy ${eviction.policy} can evict lock keys (no expired event is sent for them; the reconciler finds them later). Prefer noeviction for this Redis.`,
    );
  }

  private async applyKeyspaceFlags(): Promise<void> {
    const setup = await this.store.ensureKeyspaceEvents(this.options.forceConfigOverride);
    const refusedBefore = this.keyspaceRefused;
    this.keyspaceRefused = setup.kind === 'refused';
    if (setup.kind === 'set') {
      this.log().info({ from: setup.from, to: setup.flags }, 'set notify-keyspace-events');
    } else if (setup.kind === 'refused' && !refusedBefore) {
      const err = new KeyspaceConfigError(
        'Could not make notify-keyspace-events include K and x (CONFIG refused). Set it on the server (redis.conf or your provider\'s console), or expiries will only be found by recovery.',
        { cause: setup.cause },
      );
      this.log().warn({ err }, err.message);
    }
  }

  /** New LBS entries: decode, dead-letter the bad ones, take the good ones' locks in one round trip. */
  private added$(connections: SessionConnections): Observable<StreamAdded> {
    const read = async () => {
      const reader = connections.reader!;
      await whenReady(reader, this.options.hbInterval);
      return this.store.readNew(reader, this.options.readCount, this.options.hbInterval);
    };
    return lbsEntries$(read, (batch) => this.handOut(batch), {
      ...this.options.retry,
      onRetry: (err, attempt, delayMs) => this.log().warn({ err, attempt, delayMs }, 'LBS read failed; retrying'),
      beforeRetry: (err) =>
        defer(async () => {
          if (!String((err as Error)?.message).startsWith('NOGROUP')) return;
          this.log().warn({ group: this.store.group }, 'consumer group missing (Redis restarted?); re-creating it');
          await this.store.createGroup();
          await this.applyKeyspaceFlags();
        }),
    });
  }

  private handOut(batch: readonly RawEntry[]): Observable<StreamAdded> {
    return defer(async () => {
      const { good, bad } = partitionEntries(batch, this.options.maxEntryBytes);
      await this.deadLetter(bad);
      const started = Date.now();
      const results = await this.store.takeLocks(
        good.map((e) => ({ lockKey: lockKey(e.payload.dataStreamName, e.payload.idInLbs), name: e.payload.dataStreamName, id: e.payload.idInLbs })),
      );
      const duplicates = good.flatMap((entry, i) => {
        const result = results[i]!;
        return typeof result === 'object'
          ? [{ entry: batch.find((raw) => raw.id === entry.payload.idInLbs)!, reason: `duplicate: data stream "${entry.payload.dataStreamName}" is already handled by LBS entry ${result.duplicateOf}` }]
          : [];
      });
      await this.deadLetter(duplicates);
      return good.filter((entry, i) => {
        const taken = results[i] === 'taken';
        this.options.metrics.recordLockAcquisitionAttempt?.(entry.payload.dataStreamName, taken, Date.now() - started);
        if (results[i] === 'held') this.log().warn({ stream: entry.payload.dataStreamName, id: entry.payload.idInLbs }, 'a new entry is held or taken over by another consumer (late read reply?); left to it');
        return taken;
      });
    }).pipe(mergeMap((entries) => entries.map((entry) => this.added(entry))));
  }

  private async deadLetter(bad: Parameters<LbsStore['deadLetter']>[0]): Promise<void> {
    for (const { entry, reason } of bad) {
      this.log().warn({ id: entry.id, reason, deadLetter: this.store.dead }, 'invalid LBS entry moved to the dead-letter stream');
      this.options.metrics.recordDeadLetter?.(reason);
    }
    await this.store.deadLetter(bad);
  }

  private added(entry: LbsEntry): StreamAdded {
    const owned = this.own(entry);
    return { type: 'StreamAdded', payload: owned.payload, additionalInfo: owned.additionalInfo };
  }

  private own(entry: LbsEntry): OwnedStream {
    const owned = this.ownership.take(entry.payload, entry.additionalInfo);
    this.options.metrics.recordStreamProcessingStart?.(entry.payload.dataStreamName, owned.since);
    return owned;
  }

  /** Start-up recovery, then a sweep every `lbsIdleTime`; a failed sweep is logged and never ends the stream. */
  private recovered$(): Observable<StreamAdded> {
    let first = true;
    return recoverySweep$(this.options.lbsIdleTime, () => {
      const started = Date.now();
      let recovered = 0;
      const startup = first;
      first = false;
      return sweepOnce$(this.recoveryPort(), this.sweepConfig()).pipe(
        tap((page) => {
          recovered += page.recovered.length;
          for (const err of page.failures) this.log().warn({ err }, 'recovering one LBS entry failed');
        }),
        mergeMap((page) => page.recovered.map((entry) => this.added(entry))),
        tap({
          complete: () => {
            if (startup) this.options.metrics.recordStartupRecovery?.(true, recovered, Date.now() - started);
            if (recovered > 0) this.log().info({ recovered }, 'recovered LBS entries whose owner is gone');
          },
        }),
        catchError((err: unknown) => {
          if (startup) this.options.metrics.recordStartupRecovery?.(false, recovered, Date.now() - started);
          this.log().warn({ err }, 'recovery sweep failed; the next one runs in lbsIdleTime');
          return EMPTY;
        }),
      );
    });
  }

  private recoveryPort(): RecoveryPort {
    return {
      pending: (minIdle, start, count) => this.store.pending(minIdle, start, count),
      entries: (ids) => this.store.entries(ids),
      ackDangling: (ids) => this.store.ackDangling(ids),
      deadLetter: (bad) => this.deadLetter(bad),
      claim: (lock, id, minIdle) => this.store.claim(lock, id, minIdle),
    };
  }

  private sweepConfig(): SweepConfig {
    return {
      minIdleMs: this.options.lbsIdleTime,
      count: this.options.lbsRecoveryCount,
      maxEntryBytes: this.options.maxEntryBytes,
      isOwned: (row) => row.consumer === this.id && (this.ownership.holdsId(row.id) || this.releasedRecently(row.id)),
    };
  }

  /** An entry this consumer released less than 10 heartbeats ago: left for the others to claim. */
  private releasedRecently(idInLbs: string): boolean {
    const horizon = Date.now() - 10 * this.options.hbInterval;
    for (const [key, { id, at }] of this.released) {
      if (at < horizon) this.released.delete(key);
      else if (id === idInLbs) return true;
    }
    return false;
  }

  /** Expiries of this service's locks, except this consumer's own (its heartbeat decides those). */
  private expired$(connections: SessionConnections): Observable<StreamExpired> {
    return keyspaceExpiries$(connections.subscriber, dbOf(this.redis)).pipe(
      map(parseLockKey),
      filter((key): key is LbsInfo => key !== undefined && !this.ownership.holds(key.dataStreamName, key.idInLbs)),
      filter((key) => !this.released.delete(lockKey(key.dataStreamName, key.idInLbs))),
      mergeMap((key) => this.describeExpired(key)),
      catchError((err: unknown) => {
        throw asRedisError('Subscribing to keyspace notifications')(err);
      }),
    );
  }

  /** Reads the expired lock's LBS entry: only an entry of this service's LBS, of the same name, is reported. */
  private describeExpired(key: LbsInfo): Observable<StreamExpired> {
    return defer(async () => {
      const raw = await this.store.entry(key.idInLbs);
      if (raw === null) return [];
      return pipe(
        decodeLbsEntry(raw, Infinity),
        E.fold(
          (): StreamExpired[] => [],
          (entry): StreamExpired[] => {
            if (entry.payload.dataStreamName !== key.dataStreamName) return [];
            this.options.metrics.recordKspNotification?.(key.dataStreamName);
            return [{ type: 'StreamExpired', payload: entry.payload, additionalInfo: entry.additionalInfo }];
          },
        ),
      );
    }).pipe(
      mergeMap((events) => events),
      catchError((err: unknown) => {
        this.options.metrics.recordKspNotificationDropped?.();
        this.log().warn({ err, stream: key.dataStreamName }, 'could not read the LBS entry of an expired lock');
        return EMPTY;
      }),
    );
  }

  /**
   * One heartbeat tick: extend every owned lock in one round trip per chunk. A tick Redis has not
   * answered within one TTL is abandoned, and its late answer ignored (`judge` decides meanwhile).
   */
  private beat(): Observable<readonly HeartbeatResult[]> {
    return defer(async () => {
      const owned = this.ownership.all();
      const sentAt = Date.now();
      if (owned.length > 0) this.failingSince ??= sentAt;
      const statuses = owned.length === 0 ? [] : await this.store.extendLocks(owned.map((o) => o.lockKey));
      return { owned, statuses, sentAt };
    }).pipe(
      timeout({ first: this.options.hbInterval }),
      map(({ owned, statuses, sentAt }) => this.applyBeat(owned, statuses, sentAt)),
      catchError((err: unknown) => {
        this.log().warn({ err, owned: this.ownership.size }, 'heartbeat failed; retrying at the next tick');
        return EMPTY;
      }),
    );
  }

  /** What a heartbeat's answer means for each lock: confirmed, re-taken, or lost (StreamDisowned). */
  private applyBeat(owned: readonly OwnedStream[], statuses: readonly LockStatus[], sentAt: number): HeartbeatResult[] {
    this.failingSince = undefined;
    const results: HeartbeatResult[] = [];
    owned.forEach((o, i) => {
      const status = statuses[i]!;
      const name = o.payload.dataStreamName;
      this.options.metrics.recordLockExtensionAttempt?.(name, status !== LockStatus.Lost);
      if (this.ownership.get(name) !== o) {
        // Dropped while the tick was in flight (done, released, assumed lost): if the tick kept
        // the lock alive, let it expire now so that the others hear of it.
        if (status !== LockStatus.Lost && !this.released.has(o.lockKey)) void this.store.expireLock(o.lockKey).catch(() => undefined);
        return;
      }
      if (status === LockStatus.Lost) {
        this.ownership.drop(o);
        this.options.metrics.recordStreamProcessingEnd?.(name, o.since);
        this.log().warn({ stream: name }, 'stream disowned: another consumer holds its lock, or took over its entry');
        results.push({ payload: o.payload, additionalInfo: o.additionalInfo, status });
        return;
      }
      if (status === LockStatus.Retaken) this.log().info({ stream: name }, 're-took a lock that had vanished');
      o.confirmedAt = sentAt;
    });
    return results;
  }

  /** At every tick, without Redis: the streams whose locks could not be extended for longer than their TTL are lost. */
  private judge(): (readonly HeartbeatResult[])[] {
    const now = Date.now();
    const lost = assumeLost(this.ownership.all(), now, this.options.hbInterval, this.options.hbInterval / 2, {
      lastTickAt: this.lastTickAt,
      failingSince: this.failingSince,
    });
    if (now - this.lastTickAt > this.options.hbInterval) this.failingSince = undefined;
    this.lastTickAt = now;
    if (lost.length === 0) return [];
    for (const o of lost) {
      this.ownership.drop(o);
      this.options.metrics.recordStreamProcessingEnd?.(o.payload.dataStreamName, o.since);
    }
    this.log().warn({ streams: lost.length }, 'Redis has not confirmed these locks for longer than their TTL: assuming the streams lost');
    return [lost.map((o) => ({ payload: o.payload, additionalInfo: o.additionalInfo, status: LockStatus.Lost }))];
  }

  /**
   * Reaper turn: touch the locks of the service's overdue consumers (they have not extended their
   * locks for a TTL) so that their `expired` events go out now, to every consumer (this one
   * included, through its subscriber). Locks that vanished without an event are left to the
   * reconciler, which takes their entries over.
   */
  private reap(): Observable<never> {
    return defer(async () => {
      const overdue = await this.store.overdueConsumers(this.options.reapInterval, REAP_LIMIT);
      await Promise.all(overdue.map((consumer) => this.store.touchLocksOf(consumer)));
    }).pipe(
      ignoreElements(),
      catchError((err: unknown) => {
        this.log().warn({ err }, 'reaping overdue locks failed; retrying at the next interval');
        return EMPTY;
      }),
    );
  }

  /**
   * Reconciler turn (one consumer per interval): restore keyspace notifications if they were
   * switched off, and take one page of pending entries that have no lock at all (their owner died
   * before locking, or the lock vanished without an event: evicted, expired while Redis was down).
   */
  private reconcile(): Observable<StreamAdded> {
    return defer(async () => {
      if (!(await this.store.winReconcilerTurn(this.options.reconcileInterval))) return [];
      await this.applyKeyspaceFlags();
      const page = await sweepPage(this.recoveryPort(), { ...this.sweepConfig(), minIdleMs: this.options.hbInterval }, this.reconcileCursor);
      this.reconcileCursor = page.next;
      for (const err of page.failures) this.log().warn({ err }, 'reconciling one LBS entry failed');
      if (page.recovered.length > 0) this.log().info({ recovered: page.recovered.length }, 'took pending entries that had no lock');
      return page.recovered;
    }).pipe(
      mergeMap((entries) => entries.map((entry) => this.added(entry))),
      catchError((err: unknown) => {
        this.log().warn({ err }, 'reconciling failed; retrying at the next interval');
        return EMPTY;
      }),
    );
  }

  private log() {
    return this.options.logger;
  }
}
