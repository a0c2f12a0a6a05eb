/**
 * Reproduction (lib bug found by the chaos row `redis-restart`): a `doneStream` that fails with a
 * Redis error leaves the stream owned by the client, whose heartbeat then keeps its lock alive
 * forever, while `processStreams` has already reported the stream `Failed` and nobody works on it.
 * Fixed by commit 9e32a83 (processStreams hands the stream back when doneStream fails); kept as a
 * regression check: it exits 0 when the lock goes away.
 *
 *   node --require tsx/cjs chaos/repro-done-after-data-loss.ts            # exit 1: reproduced
 *   node --require tsx/cjs chaos/repro-done-after-data-loss.ts --aof      # the same, losing a live entry
 *
 * Default: one consumer with processStreams; a stream is handed to it; redis-server is killed; the
 * handler completes while Redis is down (doneStream waits in ioredis' offline queue); redis-server
 * comes back empty (no persistence). The queued finish script runs before the reader re-created the
 * group: NOGROUP. Expected: the stream is dropped (or released) and its lock goes away. Observed:
 * outcome Failed, and `<name><MUTEX_KEY_SEP><id>` is still held by the consumer, with a fresh TTL,
 * many heartbeats later (the heartbeat re-took it because Redis lost its data).
 *
 * --aof: Redis persists (AOF, fsync always) and the caller's connection fails commands at the first
 * reconnection attempt (`maxRetriesPerRequest: 0`, a common setting to fail fast). doneStream fails while
 * Redis restarts (down 150 ms, less than one TTL); the entry and its lock survive; the heartbeat
 * keeps extending the lock of a stream nobody works on: the entry is never processed (lost).
 */
import Redis from 'ioredis';
import { Subject, lastValueFrom } from 'rxjs';
import { RedisStreamClient, addStream, claimExpired, lockKey, processStreams } from '../lib';
import type { StreamOutcome } from '../lib';
import { sleep } from '../support/service';
import { runRepro } from './repro';
import { RIDE_OUT, RedisServer } from '../support/redis-server';


const aof = process.argv.includes('--aof');

const main = async (): Promise<boolean> => {
  const server = await RedisServer.start({ args: aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : [] });
  const redis = new Redis({ port: server.port, ...(aof ? { maxRetriesPerRequest: 0 } : {}) });
  redis.on('error', () => undefined);
  if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
  const admin = server.connect({ ...RIDE_OUT, connectionName: 'repro-admin' });
  const hb = aof ? 1000 : 500;
  const client = new RedisStreamClient(redis, 'repro', { consumerId: 'a', hbInterval: hb, retry: { maxRetries: -1, initialDelay: 50, maxDelay: 200 } });
  const gate = new Subject<void>();
  const outcomes: StreamOutcome[] = [];
  let started: { name: string; id: string } | undefined;
  const sub = client
    .init()
    .pipe(
      claimExpired(client),
      processStreams(client, (s) => {
        started = { name: s.payload.dataStreamName, id: s.payload.idInLbs };
        return gate;
      }),
    )
    .subscribe({ next: (o) => outcomes.push(o), error: (err: Error) => console.log(`notifications$ error: ${err.message}`) });
  await sleep(300);
  await lastValueFrom(addStream(admin, 'repro', { dataStreamName: 's1' }));
  while (started === undefined) await sleep(10);
  console.log(`handed out: ${started.name} ${started.id}`);

  await server.kill();
  gate.complete(); // the work is done: processStreams calls doneStream, queued (or refused) while Redis is down
  await sleep(100);
  await server.boot();
  console.log(aof ? 'redis-server restarted from its AOF' : 'redis-server restarted empty');
  await sleep(6 * hb);

  const lock = lockKey(started.name, started.id);
  const holder = await admin.get(lock);
  const ttl = await admin.pttl(lock);
  const xlen = await admin.xlen('repro-input');
  const pending = ((await admin.xpending('repro-input', 'repro-group').catch(() => [0])) as unknown[])[0];
  console.log(`outcomes: ${outcomes.map((o) => `${o.type}${o.type === 'Failed' ? ` (${(o.error as Error).message.slice(0, 90)})` : ''}`).join(', ')}`);
  console.log(`after ${6 * hb} ms: lock ${lock} held by ${holder ?? 'nobody'} (PTTL ${ttl} ms); LBS length ${xlen}, pending ${String(pending)}`);
  await sleep(10 * hb);
  const still = await admin.get(lock);
  console.log(`after ${16 * hb} ms: lock held by ${still ?? 'nobody'} (PTTL ${await admin.pttl(lock)} ms)`);
  const bug = outcomes.some((o) => o.type === 'Failed') && still !== null;
  console.log(bug ? 'BUG REPRODUCED: the stream was reported Failed, yet its lock is kept alive forever by the heartbeat' : 'not reproduced');
  sub.unsubscribe();
  redis.disconnect();
  admin.disconnect();
  await server.stop();
  return bug;
};

runRepro(main);
