/**
 * The producer of the load-balancing example, run as its own process by main.ts (or by hand:
 * `SERVICE=my-service node --require tsx/cjs examples/load-balancing/producer.ts`).
 *
 * For each of STREAMS orders it writes a data stream `<service>:order-<n>` with a few entries,
 * then hands the stream to the service's consumers with `addStream` (one LBS entry each), waiting
 * INTERVAL_MS between two streams. Then it exits.
 *
 * Env: REDIS_URL (default redis://127.0.0.1:6379), SERVICE (required), STREAMS (default 9),
 * INTERVAL_MS (default 200).
 */
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../../lib';
import { intEnv, reportSent, requiredEnv } from './protocol';

const service = requiredEnv('SERVICE', 'producer');
const streams = intEnv('STREAMS', 9);
const intervalMs = intEnv('INTERVAL_MS', 200);

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { connectionName: 'lb-example-producer' });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function produce(): Promise<void> {
  for (let n = 1; n <= streams; n++) {
    const name = `${service}:order-${n}`;
    // The data stream itself: a few line items (this library hands out whole streams, not entries).
    const items = 2 + ((n * 7) % 5);
    const write = redis.multi();
    for (let item = 1; item <= items; item++) write.xadd(name, '*', 'item', `sku-${n}-${item}`, 'qty', String(item));
    await write.exec();
    // One LBS entry: one of the service's consumers is handed `name`, with this info.
    const id = await lastValueFrom(addStream(redis, service, { dataStreamName: name, info: { order: n, items } }));
    await reportSent({ type: 'added', stream: name, id, entries: items });
    if (n < streams) await sleep(intervalMs);
  }
  await reportSent({ type: 'produced', count: streams });
}

produce()
  .then(() => (process.exitCode = 0))
  .catch((err: { message?: string }) => {
    process.stderr.write(`producer failed: ${err.message ?? String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    void redis.quit().catch(() => undefined).finally(() => {
      if (process.connected) process.disconnect();
    });
  });
