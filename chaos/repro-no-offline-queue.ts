/**
 * Reproduction (lib bug): a caller's connection made with `enableOfflineQueue: false` (a common
 * fail-fast setting) cannot start a client. The keyspace subscriber is `redis.duplicate({ lazyConnect:
 * true, ... })` (lib/redis/connections.ts, openSubscriber), so it inherits `enableOfflineQueue: false`;
 * PSUBSCRIBE is sent before that lazy connection is up and ioredis refuses it at once, and
 * `init()` errors with REDIS "Subscribing to keyspace notifications failed: Stream isn't writeable
 * and enableOfflineQueue options is false", although the caller's own connection is ready.
 *
 *   node --require tsx/cjs chaos/repro-no-offline-queue.ts      # exit 1: reproduced
 */
import Redis from 'ioredis';
import { RedisStreamClient } from '../lib';
import { runRepro } from './repro';
import { RedisServer } from '../support/redis-server';

const main = async (): Promise<boolean> => {
  const server = await RedisServer.start();
  const redis = new Redis({ port: server.port, enableOfflineQueue: false });
  redis.on('error', () => undefined);
  await new Promise((r) => redis.once('ready', r));
  const client = new RedisStreamClient(redis, 'repro', { consumerId: 'a', hbInterval: 500 });
  let failure: (Error & { code?: string }) | undefined;
  const sub = client.init().subscribe({ error: (err: Error & { code?: string }) => (failure = err) });
  await new Promise((r) => setTimeout(r, 1500));
  console.log(failure === undefined ? 'init() is running: not reproduced' : `BUG REPRODUCED: init() errored: ${failure.code} ${failure.message}`);
  sub.unsubscribe();
  redis.disconnect();
  await server.stop();
  return failure !== undefined;
};

runRepro(main);
