/**
 * The connection the library takes, typed by what it uses of it rather than by one major's
 * class: an ioredis `Redis` of major 5 or 6 (either RESP protocol, any `replyMapping`) fits, and
 * so does a subclass of it. Nothing here imports ioredis, so the app's own copy of ioredis is the
 * only one that matters to the compiler.
 *
 * The client sends its commands on this connection and `duplicate()`s it (same host, port, db,
 * credentials and TLS) for its blocking reader and its keyspace subscriber.
 *
 * ## Example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisStreamClient, type RedisLike } from 'redis-stream-client-rx';
 *
 * const redis: RedisLike = new Redis('redis://127.0.0.1:6379');
 * const client = new RedisStreamClient(redis, 'my-service', { consumerId: 'worker-1' });
 * ```
 */
export interface RedisLike {
  /** The connection's options; the client reads `db` (for the keyspace channel `__keyspace@<db>__`). */
  readonly options: { readonly db?: number | undefined };
  /** ioredis' connection status (`'ready'`, `'connecting'`, ...). */
  readonly status: string;
  /** A new connection with the same options and `override` on top. */
  duplicate(override?: Record<string, unknown>): RedisLike;
  /** Registers a Lua script as a command (EVALSHA, falling back to EVAL). */
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  pipeline(): unknown;
  multi(): unknown;
  config(...args: any[]): Promise<unknown>;
  get(...args: any[]): Promise<unknown>;
  set(...args: any[]): Promise<unknown>;
  pttl(...args: any[]): Promise<unknown>;
  xadd(...args: any[]): Promise<unknown>;
  xack(...args: any[]): Promise<unknown>;
  xgroup(...args: any[]): Promise<unknown>;
  xpending(...args: any[]): Promise<unknown>;
  xrange(...args: any[]): Promise<unknown>;
  xreadgroup(...args: any[]): Promise<unknown>;
}
