import Redis from 'ioredis';

/** The connection type users hand to the client. */
export type RedisConnection = Redis;

/** The db number of a connection, for the keyspace channel (`__keyspace@<db>__`). */
export const dbOf = (redis: Redis): number => redis.options.db ?? 0;

/**
 * The blocking reader: a connection of its own, so a blocked XREADGROUP never delays other
 * commands. Commands fail at once while it is disconnected (no offline queue) so that the reader's
 * own backoff decides, and `blockingTimeout` abandons a read the server never answers.
 */
export const openReader = async (redis: Redis, blockMs: number): Promise<Redis> => {
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
export const openSubscriber = (redis: Redis): Redis =>
  redis.duplicate({ lazyConnect: true, enableOfflineQueue: true, connectionName: 'rscrx-subscriber' });

/** Closes a connection the client opened, without waiting and without throwing. */
export const closeQuietly = (conn: Redis | undefined): void => {
  if (conn === undefined) return;
  conn.removeAllListeners('error');
  conn.on('error', () => undefined);
  conn.disconnect(false);
};

/**
 * The connections one subscription of `notifications$` opens: the blocking reader (opened during
 * start-up) and the keyspace subscriber. `unsubscribe()` closes both.
 */
export class SessionConnections {
  reader: Redis | undefined;
  readonly subscriber: Redis;

  constructor(private readonly redis: Redis, private readonly onError: (role: string, err: unknown) => void) {
    this.subscriber = openSubscriber(redis);
    this.subscriber.on('error', (err: unknown) => onError('subscriber', err));
  }

  async openReader(blockMs: number): Promise<Redis> {
    const reader = await openReader(this.redis, blockMs);
    reader.on('error', (err: unknown) => this.onError('reader', err));
    this.reader = reader;
    return reader;
  }

  unsubscribe(): void {
    closeQuietly(this.reader);
    closeQuietly(this.subscriber);
  }
}

/**
 * Resolves once the connection is ready (at once if it is), or rejects after `timeoutMs`: the
 * reader waits for its reconnection instead of failing a read per retry while it reconnects.
 */
export const whenReady = (conn: Redis, timeoutMs: number): Promise<void> =>
  conn.status === 'ready'
    ? Promise.resolve()
    : new Promise((resolve, reject) => {
        const onReady = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          conn.off('ready', onReady);
          reject(new Error(`the reader connection is not ready after ${timeoutMs} ms (status ${conn.status})`));
        }, timeoutMs);
        conn.once('ready', onReady);
      });
