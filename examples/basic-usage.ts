/**
 * The complete example of the README: one consumer that processes every stream it is handed or
 * claims, and a producer that adds a few streams. Run it with `npm run example:basic`
 * (REDIS_URL, default redis://127.0.0.1:6379); stop it with Ctrl-C.
 */
import { Redis } from 'ioredis';
import { concatMap, from, lastValueFrom, timer } from 'rxjs';
import { RedisStreamClient, addStream, claimExpired, processStreams } from '../lib';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const client = new RedisStreamClient(redis, 'example-service', {
  consumerId: process.env.POD_NAME ?? `example-${process.pid}`,
  hbInterval: 2000,
});

// Work on one data stream: here, read what is in it, then wait a little.
const work = (name: string) =>
  from(redis.xrange(name, '-', '+')).pipe(concatMap((entries) => timer(500 + entries.length)));

const subscription = client
  .init()
  .pipe(
    claimExpired(client), // StreamExpired -> claim; StreamClaimed when we won
    processStreams(client, (stream) => work(stream.payload.dataStreamName), { concurrency: 10 }),
  )
  .subscribe({
    next: (outcome) => console.log(outcome.type, outcome.payload.dataStreamName),
    error: (err: { code?: string; message?: string }) => console.error('stopped:', err.code, err.message),
  });

// A producer adds streams; any consumer of 'example-service' may be handed them.
void (async () => {
  for (const user of ['u1', 'u2', 'u3']) {
    await lastValueFrom(addStream(redis, 'example-service', { dataStreamName: `session-${user}`, info: { user } }));
  }
})().catch((err: Error) => console.error('producer stopped:', err.message)); // Ctrl-C may close the connection first

// Ctrl-C: shutdown() hands unfinished streams to the other consumers; done() would acknowledge
// them all. Under `npm run` the signal can come twice (from the terminal and from npm): once is enough.
let stopping = false;
process.on('SIGINT', () => {
  if (stopping) return;
  stopping = true;
  client.shutdown().subscribe({
    complete: () => {
      subscription.unsubscribe();
      void redis.quit();
    },
  });
});
