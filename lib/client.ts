import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { Observable, Subject, asyncScheduler, concat, defer, shareReplay } from 'rxjs';
import { resolveOptions } from './codecs/options';
import type { ClientDeps, PartitionDeps } from './deps';
import { InvalidOptionsError } from './errors';
import { consumerName } from './keys';
import { resolveLayout } from './layout';
import { claim, doneStream, finishAll, release } from './lease/commands';
import { ExpiryClock } from './lease/expiry-clock';
import { Fleet } from './lease/fleet';
import { LeaseLedger } from './lease/ledger';
import { LockManager } from './lease/lock-manager';
import { EntryEngine } from './entries/engine';
import { notifications$ } from './notifications';
import { RedisConnection, asIoredis, isCluster } from './redis/connections';
import { PartitionedPort } from './redis/partitioned-port';
import type { TaggedSession } from './redis/tagged-session';
import { RedisPort } from './redis/store';
import type { Claimed, ClientOptions, LbsInfo, Notification } from './types';

/** How long this consumer's sweeps leave an entry it handed back to the others, in heartbeats. */
const HAND_BACK_HEARTBEATS = 10;

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
  /** @internal Reads the entries of owned streams for `consumeStream` (one shared reader, batched fenced commits). */
  readonly entryEngine: EntryEngine;
  private readonly deps: ClientDeps;
  private readonly stop$ = new Subject<void>();
  private readonly notifications$: Observable<Notification>;
  /** The call that stopped this client, once it is stopped. */
  private closed: false | 'done()' | 'shutdown()' = false;
  /** The first `done()` or `shutdown()` subscribed, shared by every later call. */
  private stopping: Observable<void> | undefined;

  /**
   * @param redis an ioredis connection or `Cluster`; the client uses it for commands and
   *   `duplicate()`s it for the blocking reader and the keyspace subscriber (on a Cluster: one
   *   subscriber per node, and no blocking reader); those it closes itself, this one stays yours
   * @param service the service name: keys are `<service>-input`, `<service>-group`, `<service>-dead`
   * @param options validated at once: throws `InvalidOptionsError` or `ConsumerIdMissingError`
   */
  constructor(redis: RedisConnection, readonly service: string, options: ClientOptions = {}) {
    if (typeof service !== 'string' || service.length === 0) {
      throw new InvalidOptionsError('The service name must be a non-empty string (it prefixes the LBS keys).');
    }
    const resolved = pipe(
      resolveOptions(options, process.env),
      E.getOrElseW((err) => {
        throw err;
      }),
    );
    this.id = consumerName(resolved.consumerId);
    const scheduler = asyncScheduler;
    const { logger: log, metrics, hbInterval } = resolved;
    const layout = resolveLayout(service, isCluster(redis), resolved);
    const keys = layout.keysOf(0);
    const tagged = layout.kind === 'tagged' ? new PartitionedPort(asIoredis(redis), service, layout, this.id, hbInterval) : undefined;
    const port = tagged ?? new RedisPort(redis, keys, this.id, hbInterval);
    const partitions: PartitionDeps[] | undefined = tagged && Array.from({ length: layout.partitions }, (_, index) => ({
      index,
      keys: layout.keysOf(index),
      port: tagged.partition(index),
      belongsHere: (name: string) => layout.partitionOf(name) === index,
      sessionOf: (session) => (session as TaggedSession).partition(index),
    }));
    const lockKey = layout.lockKeyOf;
    const ledger = new LeaseLedger(lockKey, () => scheduler.now(), HAND_BACK_HEARTBEATS * hbInterval, {
      taken: (lease) => metrics.recordStreamProcessingStart?.(lease.payload.dataStreamName, lease.since),
      dropped: (lease) => metrics.recordStreamProcessingEnd?.(lease.payload.dataStreamName, lease.since),
    }, resolved.maxStreams);
    const fleet = new Fleet(ledger, { consumer: this.id, hbInterval, rebalance: resolved.rebalance, rebalanceBatch: resolved.rebalanceBatch });
    const locks = new LockManager({ ledger, port, ttl: hbInterval, scheduler, log, metrics, fleet });
    const expiries = new ExpiryClock(() => scheduler.now(), resolved.lbsIdleTime);
    this.deps = {
      service, keys, port, ledger, locks, options: resolved, scheduler, log, metrics, lockKeyOf: lockKey, expiries,
      parseLockKey: layout.parseLockKey,
      partitions,
      keyspaceEvents: tagged ? 'Kxt' : 'Kx',
      fleet,
      handOver: { isConsuming: (name) => this.entryEngine.isConsuming(name), handBack: (name) => this.entryEngine.handBack(name) },
    };
    this.notifications$ = notifications$(this.deps, { stop$: this.stop$, isClosed: () => this.closed });
    this.entryEngine = new EntryEngine({ port: port.entryPort(hbInterval), ledger, consumer: this.id, blockMs: hbInterval, scheduler, log });
  }

  /**
   * The notification stream, shared by every subscriber. Nothing starts until the first
   * subscription; it completes after `done()` or `shutdown()` and errors with a typed error when
   * start-up fails or the LBS reader runs out of retries.
   */
  init(): Observable<Notification> {
    return this.notifications$;
  }

  /**
   * Takes over a stream that lost its owner (from `StreamExpired`): one value, then complete.
   * Errors with `AlreadyClaimedError` when another consumer holds it or won the race.
   */
  claim(info: LbsInfo): Observable<Claimed> {
    return claim(this.deps, info);
  }

  /**
   * Finishes a stream this consumer owns: releases its lock, XACK and XDEL of its LBS entry, in
   * one atomic step. Errors with `StreamNotFoundError` when this consumer does not own it, and with
   * `NotOwnerError` (nothing acknowledged) when another consumer took it meanwhile.
   */
  doneStream(name: string): Observable<void> {
    return concat(this.entryEngine.settle(name, 'done'), doneStream(this.deps, name));
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
    return concat(this.entryEngine.settle(name, 'released'), release(this.deps, name));
  }

  /**
   * Finishes every owned stream (as `doneStream`), then stops: `notifications$` completes, and no
   * timer, connection or subscription of this client is left. Errors with the first Redis failure
   * (after stopping); streams another consumer took meanwhile are only logged. Safe to call twice:
   * a later `done()` or `shutdown()` ends as the first one.
   */
  done(): Observable<void> {
    return this.stopOnce(() => finishAll(this.deps, (name) => this.doneStream(name), () => this.stop('done()')));
  }

  /**
   * Graceful shutdown: hands every owned stream back unfinished (as `release`), so the rest of the
   * fleet takes them over within milliseconds, then stops like `done()`. Use it when work in
   * progress must continue elsewhere; use `done()` (Go semantics) when every owned stream is
   * finished. Safe to call twice: a later `shutdown()` or `done()` ends as the first one.
   */
  shutdown(): Observable<void> {
    return this.stopOnce(() => finishAll(this.deps, (name) => this.release(name), () => this.stop('shutdown()')));
  }

  /**
   * `done()` and `shutdown()` are safe to call twice (two signal handlers, a retry): a call while
   * the first one runs, or after it, ends as the first one does instead of stopping a second time
   * (whose commands could meet a connection its caller already closed). The first runs to its end
   * even if its subscriber leaves.
   */
  private stopOnce(stop: () => Observable<void>): Observable<void> {
    return defer(() => (this.stopping ??= stop().pipe(shareReplay({ bufferSize: 1, refCount: false }))));
  }

  private stop(by: 'done()' | 'shutdown()'): void {
    this.closed = by;
    this.entryEngine.close();
    this.stop$.next();
    this.deps.log.info({}, 'client stopped');
  }
}
