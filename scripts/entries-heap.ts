/**
 * Heap per idle owned stream with consumeStream: one consumer owns N streams (default 20,000)
 * whose data streams are idle, first only held (processStreams with a handler that never ends),
 * then read by consumeStream; prints the heap per stream of each, after a full GC (after a
 * warm-up round of each).
 *
 *   node --expose-gc --require tsx/cjs scripts/entries-heap.ts [N] [redis-url]
 */
import Redis from 'ioredis';
import { NEVER, Subscription, of } from 'rxjs';
import { LBS_FIELD, RedisStreamClient, consumeStream, lbsKey, processStreams } from '../lib';
import { heapAfterGc, sleep } from './heap-after-gc';

const n = Number(process.argv[2] ?? 20_000);
const url = process.argv[3] ?? 'redis://127.0.0.1:6379';
const heap = (): Promise<number> => heapAfterGc(3, 50);

const run = async (consume: boolean, n: number): Promise<number> => {
  const admin = new Redis(url);
  const service = `heap-${consume ? 'consume' : 'hold'}-${process.pid}`;
  const redis = new Redis(url);
  const client = new RedisStreamClient(redis, service, { consumerId: 'heap', readCount: 1000 });
  const sub: Subscription = client
    .init()
    .pipe(processStreams(client, (s) => (consume ? consumeStream(client, s, () => of(0)) : NEVER)))
    .subscribe();
  await sleep(500);
  const before = await heap();
  for (let from = 0; from < n; from += 1000) {
    const pipeline = admin.pipeline();
    for (let i = from; i < Math.min(n, from + 1000); i++) pipeline.xadd(lbsKey(service), '*', LBS_FIELD, JSON.stringify({ DataStreamName: `${service}:s${i}`, Info: {} }));
    await pipeline.exec();
  }
  const deadline = Date.now() + 60_000;
  while ((consume ? client.entryEngine.consuming : await admin.xlen(lbsKey(service)).then(async () => Number((await admin.xpending(lbsKey(service), `${service}-group`))[0]))) < n && Date.now() < deadline) await sleep(100);
  await sleep(3000);
  const after = await heap();
  sub.unsubscribe();
  const keys = await admin.keys(`${service}*`);
  for (let i = 0; i < keys.length; i += 1000) await admin.del(...keys.slice(i, i + 1000));
  admin.disconnect();
  redis.disconnect();
  return (after - before) / n;
};

void (async () => {
  // Warm-up rounds first, so that code compiled on first use is not counted.
  await run(false, 1000);
  await run(true, 1000);
  const hold = await run(false, n);
  const consume = await run(true, n);
  console.log(JSON.stringify({ streams: n, heldBytesPerStream: Math.round(hold), consumedBytesPerStream: Math.round(consume), consumeStreamBytesPerStream: Math.round(consume - hold) }));
  process.exit(0);
})();
