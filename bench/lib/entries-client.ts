/**
 * The client side of the entries scenarios: a `RedisStreamClient` in the benchmark process that
 * consumes every stream it owns with `consumeStream` (a no-op handler), and the connections of
 * one run.
 */
import type Redis from 'ioredis';
import { EMPTY, Observable, Subscription, defer, of, tap } from 'rxjs';
import { RedisStreamClient, consumeStream, processStreams } from '../../lib';
import type { Logger } from '../../lib';
import type { RedisServer } from '../../support/redis-server';
import { COUNT_PER_STREAM } from '../scenarios/entries-design';
import { waitOrThrow } from './stats';

const until = (e: { fields: Record<string, string> }): boolean => e.fields.type === 'end';

/**
 * Holds back subscriptions until `open()`, then makes them all in one loop: the clock of a run
 * starts at `open()`, and the gate itself costs each held stream one closure (a Subject with
 * `take(1)` per stream costs more than the consumeStream start it would measure: each
 * unsubscription from a Subject of n observers is O(n)).
 */
export class Gate {
  private held: (() => void)[] | undefined = [];

  hold<T>(source: Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      if (this.held === undefined) return source.subscribe(subscriber);
      let inner: Subscription | undefined;
      let closed = false;
      this.held.push(() => {
        if (!closed) inner = source.subscribe(subscriber);
      });
      return () => {
        closed = true;
        inner?.unsubscribe();
      };
    });
  }

  open(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const start of held) start();
  }
}

/**
 * What the no-op handler returns: `EMPTY` (the synchronous no-op the API documents, nothing to
 * subscribe) or `of(undefined)` (an Observable that emits, subscribed per entry).
 */
export type NoopResult = 'empty' | 'of';

/**
 * A client in this process with `processStreams(consumeStream)`; `ready` once it started; `owned`
 * streams handed to `processStreams`; `lastAt` when it last emitted an id (`performance.now()`: a clock read per id that allocates nothing). With `gate`, each
 * stream's `consumeStream` starts only once the gate opens (the streams are owned meanwhile).
 */
export const startClient = (conn: Redis, service: string, onEntry: (fields: Record<string, string>) => void, gate?: Gate, result: NoopResult = 'empty') => {
  const state = { ready: false, owned: 0, committed: 0, lastAt: 0, failure: undefined as unknown, outcomes: new Map<string, number>() };
  const logger: Logger = { debug: () => undefined, info: (_o, msg) => void (msg === 'client started' && (state.ready = true)), warn: () => undefined, error: () => undefined };
  const client = new RedisStreamClient(conn, service, { consumerId: `bench-${service}`, readCount: 1000, logger });
  const subscription: Subscription = client
    .init()
    .pipe(
      processStreams(
        client,
        (s) => {
          state.owned++;
          const consume = defer(() => consumeStream(client, s, result === 'empty' ? (entry) => (onEntry(entry.fields), EMPTY) : (entry) => (onEntry(entry.fields), of(undefined)), { until, readCount: COUNT_PER_STREAM }));
          return (gate === undefined ? consume : gate.hold(consume)).pipe(
            tap(() => {
              state.committed++;
              state.lastAt = performance.now();
            }),
          );
        },
        { concurrency: 100_000 },
      ),
    )
    .subscribe({
      next: (o) => {
        state.outcomes.set(o.type, (state.outcomes.get(o.type) ?? 0) + 1);
        if (o.type === 'Failed') state.failure ??= o.error;
      },
      error: (err: unknown) => (state.failure = err),
    });
  return { client, state, subscription };
};

export type ClientState = ReturnType<typeof startClient>['state'];

/** `body` with two new connections (the admin's, the client's); then the data flushed and both closed. */
export const withConnections = async <T>(server: RedisServer, body: (redis: Redis, conn: Redis) => Promise<T>): Promise<T> => {
  const redis = server.connect();
  const conn = server.connect();
  try {
    await conn.ping();
    return await body(redis, conn);
  } finally {
    await redis.flushdb();
    redis.disconnect();
    conn.disconnect();
  }
};

/** `body` once a client (`startClient`) on `conn` started; unsubscribed after. */
export const withClient = async <T>(conn: Redis, service: string, onEntry: (fields: Record<string, string>) => void, body: (state: ClientState) => Promise<T>, gate?: Gate, result?: NoopResult): Promise<T> => {
  const { state, subscription } = startClient(conn, service, onEntry, gate, result);
  try {
    await waitOrThrow(() => state.ready || state.failure !== undefined, 30_000, 'the client started');
    return await body(state);
  } finally {
    subscription.unsubscribe();
  }
};
