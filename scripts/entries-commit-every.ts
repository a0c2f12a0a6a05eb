/**
 * How commit batching changes throughput: one consumer, S streams × E entries each (default
 * 1000 × 100), no-op handler; entries/s including commits for each `commitEvery.entries`.
 *
 *   node --require tsx/cjs scripts/entries-commit-every.ts [S] [E] [redis-url]
 */
import Redis from 'ioredis';
import { Subscription, of } from 'rxjs';
import { LBS_FIELD, RedisStreamClient, consumeStream, lbsKey, processStreams } from '../lib';

const S = Number(process.argv[2] ?? 1000);
const E = Number(process.argv[3] ?? 100);
const url = process.argv[4] ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const run = async (entries: number, ms: number): Promise<number> => {
  const admin = new Redis(url);
  const service = `commit-every-${entries}-${process.pid}`;
  for (let s = 0; s < S; s++) {
    const pipeline = admin.pipeline();
    for (let e = 0; e < E - 1; e++) pipeline.xadd(`${service}:s${s}`, '*', 'n', String(e));
    pipeline.xadd(`${service}:s${s}`, '*', 'end', '1');
    await pipeline.exec();
  }
  const redis = new Redis(url);
  const client = new RedisStreamClient(redis, service, { consumerId: 'bench', readCount: 1000 });
  let handled = 0;
  let done = 0;
  const sub: Subscription = client
    .init()
    .pipe(processStreams(client, (s) => consumeStream(client, s, () => of(handled++), { until: (e) => e.fields.end === '1', commitEvery: { entries, ms } })))
    .subscribe(() => done++);
  await sleep(300);
  const pipeline = admin.pipeline();
  for (let s = 0; s < S; s++) pipeline.xadd(lbsKey(service), '*', LBS_FIELD, JSON.stringify({ DataStreamName: `${service}:s${s}`, Info: {} }));
  const started = Date.now();
  await pipeline.exec();
  while (done < S) await sleep(5);
  const rate = (S * E) / ((Date.now() - started) / 1000);
  sub.unsubscribe();
  const keys = await admin.keys(`${service}*`);
  for (let i = 0; i < keys.length; i += 1000) await admin.del(...keys.slice(i, i + 1000));
  admin.disconnect();
  redis.disconnect();
  return rate;
};

void (async () => {
  for (const entries of [1, 10, 100, 1000]) console.log(JSON.stringify({ streams: S, entriesPerStream: E, commitEntries: entries, commitMs: 50, entriesPerSecond: Math.round(await run(entries, 50)) }));
  process.exit(0);
})();
