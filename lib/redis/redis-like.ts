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
  /** A pipeline (hand-out lookups, `addStream`'s XGROUP CREATE + XADD). */
  pipeline(): unknown;
  /** A transaction (dead-lettering: XADD to `<service>-dead`, XACK, XDEL). */
  multi(): unknown;
  /** CONFIG GET/SET `notify-keyspace-events`, `maxmemory-policy`. */
  config(...args: any[]): Promise<unknown>;
  /** GET of the epoch key. */
  get(...args: any[]): Promise<unknown>;
  /** SET NX of the epoch and of the reconciler's guard key. */
  set(...args: any[]): Promise<unknown>;
  /** PTTL of a handed-back lock (makes Redis delete it at once once past its TTL). */
  pttl(...args: any[]): Promise<unknown>;
  /** XADD of an LBS entry or a dead letter. */
  xadd(...args: any[]): Promise<unknown>;
  /** XACK of pending entries whose LBS entry is gone. */
  xack(...args: any[]): Promise<unknown>;
  /** XGROUP CREATE of the consumer group. */
  xgroup(...args: any[]): Promise<unknown>;
  /** XPENDING pages of the recovery sweep and the reconciler. */
  xpending(...args: any[]): Promise<unknown>;
  /** XRANGE of single LBS entries. */
  xrange(...args: any[]): Promise<unknown>;
  /** XREADGROUP, on the client's own duplicate (the blocking reader). */
  xreadgroup(...args: any[]): Promise<unknown>;
}
