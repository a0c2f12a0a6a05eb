/**
 * A consumer that reports its metrics through OpenTelemetry: the client's `metrics` option is the
 * `OpenTelemetryRecorder` of `redis-stream-client-rx/otel`, on a `MeterProvider` of
 * `@opentelemetry/sdk-metrics`. It adds a few streams (and one broken LBS entry), processes them,
 * prints every instrument the SDK collected, and exits. In an application, give the provider the
 * exporter you use (OTLP, Prometheus, ...) instead of the pull reader here.
 *
 * Run it with `npm run example:otel`. Redis from REDIS_URL, default redis://127.0.0.1:6379.
 */
import { Redis } from 'ioredis';
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { concatMap, from, lastValueFrom, timer } from 'rxjs';
import { LBS_FIELD, RedisStreamClient, addStream, claimExpired, lbsKey, processStreams } from '../../lib';
import { OpenTelemetryRecorder } from '../../lib/otel';

/** Reads every instrument when asked (`collect()`); an exporter would push them instead. */
class PullReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const STREAMS = 4;
const service = `otel-example-${Date.now().toString(36)}-${process.pid}`;
const consumerId = `otel-example-${process.pid}`;

async function main(): Promise<number> {
  const reader = new PullReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.ping();
  } catch (err) {
    console.error(`Redis is not reachable (${(err as Error).message}). Start redis-server or set REDIS_URL.`);
    redis.disconnect();
    return 1;
  }

  // The recorder reads the LBS length and pending count through `redis` at each collection.
  const recorder = new OpenTelemetryRecorder({ service, consumerId, redis });
  const client = new RedisStreamClient(redis, service, { consumerId, hbInterval: 1000, metrics: recorder });

  let processed = 0;
  let allDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const subscription = client
    .init()
    .pipe(
      claimExpired(client),
      processStreams(client, (s) => from(redis.xlen(s.payload.dataStreamName)).pipe(concatMap(() => timer(600))), { concurrency: 2 }),
    )
    .subscribe({
      next: (outcome) => {
        console.log(`${outcome.type} ${outcome.payload.dataStreamName}`);
        if (++processed === STREAMS) allDone();
      },
      error: (err: Error) => console.error(`client stopped: ${err.message}`),
    });

  await redis.xadd(lbsKey(service), '*', LBS_FIELD, 'this is not JSON');
  for (let n = 1; n <= STREAMS; n++) await lastValueFrom(addStream(redis, service, { dataStreamName: `${service}:session-${n}` }));
  let deadline: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise((resolve) => (deadline = setTimeout(resolve, 30_000)))]);
  clearTimeout(deadline);

  const { resourceMetrics } = await reader.collect();
  console.log('\ninstrument  unit  value (per attribute set; histograms: count and sum; instruments nothing was recorded on are not shown)');
  for (const m of resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)) {
    for (const p of m.dataPoints) {
      const extra = Object.entries(p.attributes).filter(([k]) => !k.endsWith('.service') && !k.endsWith('.consumer'));
      const value = m.dataPointType === DataPointType.HISTOGRAM ? (({ count, sum }) => `count ${count}, sum ${sum?.toFixed(4)}`)(p.value as { count: number; sum?: number }) : String(p.value);
      console.log(`  ${m.descriptor.name}  ${m.descriptor.unit}  ${value}${extra.length ? `  ${extra.map(([k, v]) => `${k}=${String(v)}`).join(' ')}` : ''}`);
    }
  }

  await lastValueFrom(client.done(), { defaultValue: undefined });
  subscription.unsubscribe();
  recorder.close();
  for await (const keys of redis.scanStream({ match: `${service}[-:]*`, count: 1000 })) if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
  await redis.quit();
  return processed === STREAMS ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    console.error(err);
    process.exitCode = 1;
  },
);
