import Redis, { Cluster } from 'ioredis';
import { Observable, catchError, defer, from, fromEvent, map, of, switchMap, take, throwError, timeout } from 'rxjs';
import type { RawEntry } from '../codecs/lbs-message';
import { ServiceKeys, keyspacePattern, keyspacePrefix } from '../keys';
import type { LbsSession } from '../port';
import type { RedisLike } from './redis-like';
import { classifyReplyError, firstStreamEntries, toEntries } from './replies';

/**
 * The connection type users hand to the client: one node (an ioredis 5 or 6 `Redis`, typed by what
 * the library uses of it), or an ioredis `Cluster`.
 */
export type RedisConnection = RedisLike | Cluster;

/**
 * The user's connection as the ioredis classes the library is compiled against. Every major the
 * package supports has these members with the same behaviour (the specs run under ioredis 5 and 6).
 */
export const asIoredis = (redis: RedisConnection): Redis | Cluster => redis as unknown as Redis | Cluster;

/** True for an ioredis `Cluster`. */
export const isCluster = (redis: RedisConnection): redis is Cluster => (redis as Cluster).isCluster === true;

/** The db number of a connection, for the keyspace channel (`__keyspace@<db>__`); 0 on a Cluster. */
export const dbOf = (redis: RedisConnection): number => (isCluster(redis) ? 0 : redis.options.db ?? 0);

/**
 * The blocking reader: a connection of its own, so a blocked XREADGROUP never delays other
 * commands. Commands fail at once while it is disconnected (no offline queue) so that the reader's
 * own backoff decides, and `blockingTimeout` abandons a read the server never answers.
 */
const newReader = (redis: Redis, blockMs: number): Redis => {
  const reader = redis.duplicate({
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    blockingTimeout: blockMs + 1000,
  });
  reader.on('error', () => undefined);
  // Named at every 'ready': without an offline queue, ioredis' own connectionName is refused while connecting.
  reader.on('ready', () => void reader.client('SETNAME', 'rscrx-reader').catch(() => undefined));
  return reader;
};

/** The subscriber for keyspace events: a connection of its own (a subscribed connection takes no other command), with an offline queue even if the caller's has none, so PSUBSCRIBE can be sent while it connects. */
const openSubscriber = (redis: Redis): Redis => redis.duplicate({ lazyConnect: true, enableOfflineQueue: true, connectionName: 'rscrx-subscriber' });

/**
 * Closes a connection the client opened, without waiting and without throwing. One still
 * connecting or in its ready check (a `done()` right after `init()`) is closed once it is ready
 * or has failed: closed during the check, ioredis ends the socket, the check then fails on it and
 * ioredis ends it a second time, arming its 2 s `disconnectTimeout` timer on a socket that never
 * closes again, which kept the process up 2 s longer.
 */
const closeQuietly = (conn: Redis | undefined): void => {
  if (conn === undefined) return;
  conn.removeAllListeners('error');
  conn.on('error', () => undefined);
  if (conn.status === 'connecting' || conn.status === 'connect') {
    const close = (): void => {
      conn.off('ready', close);
      conn.off('close', close);
      conn.disconnect(false);
    };
    conn.once('ready', close);
    conn.once('close', close);
    return;
  }
  conn.disconnect(false);
};

/**
 * Completes once the connection is ready (at once if it is), or errors after `timeoutMs`: the
 * reader waits for its reconnection instead of failing a read per retry while it reconnects.
 */
const whenReady = (conn: Redis, timeoutMs: number): Observable<unknown> =>
  conn.status === 'ready'
    ? of(true)
    : fromEvent(conn, 'ready').pipe(
        take(1),
        timeout({ first: timeoutMs, with: () => throwError(() => new Error(`the reader connection is not ready after ${timeoutMs} ms (status ${conn.status})`)) }),
      );

/**
 * Keys of expired locks in `db`, from keyspace notifications (PSUBSCRIBE
 * `__keyspace@<db>__:*<MUTEX_KEY_SEP>*`, message `expired`). Errors if the subscription is refused.
 * At-most-once, like all Pub/Sub: events sent while the connection reconnects are lost.
 */
export const expiredKeys$ = (subscriber: Redis, db: number): Observable<string> =>
  new Observable<string>((subscriber$) => {
    const pattern = keyspacePattern(db);
    const prefix = keyspacePrefix(db);
    const onMessage = (matched: string, channel: string, message: string): void => {
      if (matched === pattern && message === 'expired') subscriber$.next(channel.slice(prefix.length));
    };
    subscriber.on('pmessage', onMessage);
    subscriber.psubscribe(pattern).catch((err: unknown) => subscriber$.error(err));
    return () => {
      subscriber.off('pmessage', onMessage);
      subscriber.punsubscribe(pattern).catch(() => undefined);
    };
  });

/**
 * The connections one subscription of the notifications opens: the blocking reader (opened during
 * start-up) and the keyspace subscriber. `unsubscribe()` closes both; the caller's connection
 * stays open.
 */
export class RedisSession implements LbsSession {
  private reader: Redis | undefined;
  private closed = false;
  private readonly subscriber: Redis;
  readonly expiredLockKeys$: Observable<string>;

  constructor(private readonly redis: Redis, private readonly keys: ServiceKeys, private readonly consumer: string, private readonly onError: (role: string, err: unknown) => void) {
    this.subscriber = openSubscriber(redis);
    this.subscriber.on('error', (err: unknown) => onError('subscriber', err));
    this.expiredLockKeys$ = expiredKeys$(this.subscriber, dbOf(redis));
  }

  /**
   * Opens the reader. The session holds it from before the connection starts, so an
   * `unsubscribe()` that comes while it connects or runs its ready check (a `done()` right after
   * `init()`) closes it too, instead of leaving it connected behind.
   */
  openReader(blockMs: number): Observable<void> {
    return defer(async () => {
      if (this.closed) return;
      const reader = newReader(this.redis, blockMs);
      reader.on('error', (err: unknown) => this.onError('reader', err));
      this.reader = reader;
      await reader.connect();
    });
  }

  readNew(count: number, blockMs: number): Observable<readonly RawEntry[]> {
    return defer(() => whenReady(this.reader!, blockMs)).pipe(
      switchMap(() => from(this.reader!.xreadgroup('GROUP', this.keys.group, this.consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.keys.lbs, '>') as Promise<unknown>)),
      map((reply) => toEntries(firstStreamEntries(reply))),
      catchError(classifyReplyError),
    );
  }

  unsubscribe(): void {
    this.closed = true;
    closeQuietly(this.reader);
    closeQuietly(this.subscriber);
  }
}
