import Redis, { Cluster } from 'ioredis';
import { Observable, catchError, defer, from, fromEvent, map, of, switchMap, take, throwError, timeout } from 'rxjs';
import type { RawEntry } from '../codecs/lbs-message';
import { ServiceKeys, keyspacePattern, keyspacePrefix } from '../keys';
import type { LbsSession } from '../port';
import { XEntries, classifyReplyError, toEntries } from './replies';

/** The connection type users hand to the client: one node, or a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

/** True for an ioredis `Cluster`. */
export const isCluster = (redis: RedisConnection): redis is Cluster => (redis as Cluster).isCluster === true;

/** The db number of a connection, for the keyspace channel (`__keyspace@<db>__`); 0 on a Cluster. */
export const dbOf = (redis: RedisConnection): number => (isCluster(redis) ? 0 : redis.options.db ?? 0);

/**
 * The blocking reader: a connection of its own, so a blocked XREADGROUP never delays other
 * commands. Commands fail at once while it is disconnected (no offline queue) so that the reader's
 * own backoff decides, and `blockingTimeout` abandons a read the server never answers.
 */
const openReader = async (redis: Redis, blockMs: number): Promise<Redis> => {
  const reader = redis.duplicate({
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    blockingTimeout: blockMs + 1000,
  });
  reader.on('error', () => undefined);
  // Named at every 'ready': without an offline queue, ioredis' own connectionName is refused while connecting.
  reader.on('ready', () => void reader.client('SETNAME', 'rscrx-reader').catch(() => undefined));
  await reader.connect();
  return reader;
};

/** The subscriber for keyspace events: a connection of its own (a subscribed connection takes no other command), with an offline queue even if the caller's has none, so PSUBSCRIBE can be sent while it connects. */
const openSubscriber = (redis: Redis): Redis => redis.duplicate({ lazyConnect: true, enableOfflineQueue: true, connectionName: 'rscrx-subscriber' });

/** Closes a connection the client opened, without waiting and without throwing. */
const closeQuietly = (conn: Redis | undefined): void => {
  if (conn === undefined) return;
  conn.removeAllListeners('error');
  conn.on('error', () => undefined);
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
  private readonly subscriber: Redis;
  readonly expiredLockKeys$: Observable<string>;

  constructor(private readonly redis: Redis, private readonly keys: ServiceKeys, private readonly consumer: string, private readonly onError: (role: string, err: unknown) => void) {
    this.subscriber = openSubscriber(redis);
    this.subscriber.on('error', (err: unknown) => onError('subscriber', err));
    this.expiredLockKeys$ = expiredKeys$(this.subscriber, dbOf(redis));
  }

  openReader(blockMs: number): Observable<void> {
    return defer(async () => {
      const reader = await openReader(this.redis, blockMs);
      reader.on('error', (err: unknown) => this.onError('reader', err));
      this.reader = reader;
    });
  }

  readNew(count: number, blockMs: number): Observable<readonly RawEntry[]> {
    return defer(() => whenReady(this.reader!, blockMs)).pipe(
      switchMap(() => from(this.reader!.xreadgroup('GROUP', this.keys.group, this.consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.keys.lbs, '>') as Promise<[string, XEntries][] | null>)),
      map((reply) => (reply === null ? [] : toEntries(reply[0]?.[1] ?? []))),
      catchError(classifyReplyError),
    );
  }

  unsubscribe(): void {
    closeQuietly(this.reader);
    closeQuietly(this.subscriber);
  }
}
