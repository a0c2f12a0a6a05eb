/**
 * A consumer that exports its metrics to Prometheus: the client's `metrics` option is the
 * prom-client `PrometheusRecorder` of recorder.ts, and /metrics is served with node:http. It adds
 * a few streams itself (and one broken LBS entry, to show the dead-letter counter), processes them,
 * then serves /metrics until Ctrl-C.
 *
 * Run it with `npm run example:prometheus` (`-- --help` lists the flags), then
 * `curl -s localhost:9464/metrics | grep redis_stream_client_`. With `--once` it fetches its own
 * /metrics after the work, prints this library's metrics, checks them, and exits (0 when they are
 * as expected). Redis from REDIS_URL, default redis://127.0.0.1:6379.
 */
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { lastValueFrom, concatMap, from, map, timer } from 'rxjs';
import { LBS_FIELD, RedisStreamClient, addStream, claimExpired, deadLetterKey, lbsKey, processStreams } from '../../lib';
import { PrometheusRecorder } from './recorder';

const USAGE = `Usage: npm run example:prometheus -- [flags]

  --port N      port of the /metrics endpoint (default: env PORT, else 9464; 0 = any free port)
  --streams N   streams to add and process (default 5)
  --once        after the work, print this library's metrics from /metrics, check them, exit
  --help        this text

Redis: REDIS_URL (default redis://127.0.0.1:6379).`;

const PREFIX = 'redis_stream_client_';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function parseFlags() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT || '9464' },
      streams: { type: 'string', default: '5' },
      once: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const port = Number(values.port);
  const streams = Number(values.streams);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port must be a port number (got ${JSON.stringify(values.port)})`);
  if (!Number.isInteger(streams) || streams < 1) usage(`--streams must be a positive integer (got ${JSON.stringify(values.streams)})`);
  return { port, streams, once: values.once };
}

function usage(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

let flags: ReturnType<typeof parseFlags>;
try {
  flags = parseFlags();
} catch (err) {
  usage((err as Error).message); // an unknown flag, or a flag without its value
}

/** Unique per run; its keys are deleted when the example stops. */
const service = `prometheus-example-${Date.now().toString(36)}-${process.pid}`;

// The registry /metrics shows: this library's metrics, and Node's own (CPU, memory, event loop...).
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const recorder = new PrometheusRecorder({ registry, prefix: PREFIX });

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' }).end('only /metrics here\n');
});

/** GET http://127.0.0.1:<port>/metrics, as Prometheus would. */
const scrape = (port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET /metrics: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });

/** The value of one sample line of the exposition text, e.g. `x_total{result="success"}`. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

async function main(): Promise<number> {
  // Fail fast with a clear message when there is no Redis (the client itself would keep retrying).
  const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  let probeError: Error | undefined;
  probe.on('error', (err: Error) => (probeError = err));
  try {
    await probe.connect();
    await probe.quit();
  } catch (err) {
    console.error(`Redis is not reachable at ${redisUrl} (${(probeError ?? (err as Error)).message}).\nStart one (redis-server) or set REDIS_URL.`);
    return 1;
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(flags.port, () => resolve((server.address() as AddressInfo).port));
  }).catch((err: NodeJS.ErrnoException) => {
    console.error(`cannot serve /metrics on port ${flags.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use (try --port 0)' : err.message}`);
    return undefined;
  });
  if (port === undefined) return 1;
  console.log(`service ${service}; metrics on http://localhost:${port}/metrics`);

  const redis = new Redis(redisUrl, { connectionName: 'prometheus-example' });
  const client = new RedisStreamClient(redis, service, {
    consumerId: `prometheus-example-${process.pid}`,
    hbInterval: 1000, // locks extended every 500 ms: lock_extensions_total moves while the streams are worked on
    metrics: recorder,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (obj, msg) => console.warn(`warn: ${msg ?? ''} ${JSON.stringify(obj)}`),
      error: (obj, msg) => console.error(`error: ${msg ?? ''} ${JSON.stringify(obj)}`),
    },
  });

  // Work on one stream: read its entries, then spend 250 ms on each (at least 500 ms: a heartbeat or more).
  const handler = (name: string) =>
    from(redis.xrange(name, '-', '+')).pipe(concatMap((entries) => timer(250 * entries.length).pipe(map(() => entries.length))));

  let processed = 0;
  let allProcessed: () => void = () => undefined;
  const workDone = new Promise<void>((resolve) => (allProcessed = resolve));
  let failed: (err: Error) => void = () => undefined;
  const clientFailed = new Promise<never>((_, reject) => (failed = reject));

  const subscription = client
    .init()
    .pipe(
      claimExpired(client),
      processStreams(client, (stream) => handler(stream.payload.dataStreamName), { concurrency: 2 }),
    )
    .subscribe({
      next: (outcome) => {
        console.log(`${outcome.type} ${outcome.payload.dataStreamName.slice(service.length + 1)}`);
        if (outcome.type === 'Processed' && ++processed === flags.streams) allProcessed();
      },
      error: (err: Error & { code?: string }) => failed(new Error(`client stopped: ${err.code ?? ''} ${err.message}`)),
    });

  // Ctrl-C (or SIGTERM) at any point: stop cleanly (below). Under `npm run` the signal can come
  // twice (from the terminal and from npm, which passes it on): the repeat is ignored.
  let interrupted = false;
  const stopRequested = new Promise<never>((_, reject) => {
    const stop = () => {
      interrupted = true;
      reject(new Error('interrupted'));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  // With --once, give up after 30 s.
  const deadline = new Promise<never>((_, reject) => {
    if (flags.once) setTimeout(() => reject(new Error('timed out after 30 s')), 30_000).unref();
  });
  const unless = <T>(work: Promise<T>) => Promise.race([work, clientFailed, stopRequested, deadline]);

  let code = 0;
  try {
    // No need to wait for the client to start: the consumer group is created from the start of
    // the LBS, so streams added before it exists are handed out too.
    // One broken LBS entry (not JSON): the client dead-letters it (dead_letters_total{reason="not_json"}).
    await redis.xadd(lbsKey(service), '*', LBS_FIELD, 'this is not JSON');
    // The streams: a data stream with a few entries each, handed out with addStream.
    for (let n = 1; n <= flags.streams; n++) {
      const name = `${service}:session-${n}`;
      for (let i = 1; i <= 2 + (n % 4); i++) await redis.xadd(name, '*', 'event', `click-${i}`);
      await lastValueFrom(addStream(redis, service, { dataStreamName: name, info: { session: n } }));
    }
    console.log(`added ${flags.streams} streams and one broken LBS entry`);

    await unless(workDone);
    console.log(`processed ${processed} streams`);

    if (flags.once) {
      const text = await scrape(port);
      console.log(`\nGET /metrics, ${PREFIX}* (histogram buckets left out):\n`);
      for (const line of text.split('\n')) {
        if (line.startsWith(PREFIX) && !line.includes('_bucket{')) console.log(`  ${line}`);
      }
      code = check(text) ? 0 : 1;
    } else {
      console.log(`\nserving http://localhost:${port}/metrics; Ctrl-C to stop`);
      await unless(new Promise<never>(() => undefined)).catch((err: Error) => {
        if (!interrupted) throw err;
      });
    }
  } catch (err) {
    console.error(`stopping: ${(err as Error).message}`);
    code = interrupted ? 130 : 1;
  }

  // done(): finish whatever this consumer still owns, then the client stops; then our own resources.
  await lastValueFrom(client.done(), { defaultValue: undefined }).catch((err: Error) => console.error(`done() failed: ${err.message}`));
  subscription.unsubscribe();
  await deleteServiceKeys(redis).catch((err: Error) => console.error(`could not delete the keys of ${service}: ${err.message}`));
  await redis.quit().catch(() => undefined);
  await new Promise((resolve) => server.close(resolve));
  return code;
}

/**
 * Deletes every key of this run's service: `<service>-input` (the LBS, with its consumer group),
 * `<service>-dead` and the client's other `<service>-…` keys, and the data streams `<service>:session-<n>`.
 */
async function deleteServiceKeys(redis: Redis): Promise<number> {
  const keys = new Set([lbsKey(service), deadLetterKey(service)]);
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${service}[-:]*`, 'COUNT', 1000);
    for (const key of batch) keys.add(key);
    cursor = next;
  } while (cursor !== '0');
  return redis.del(...keys);
}

/** What one run of `--once` must show; prints what is off. */
function check(text: string): boolean {
  const expected: [string, number][] = [
    [`${PREFIX}stream_processing_duration_seconds_count`, flags.streams],
    [`${PREFIX}streams_in_progress`, 0],
    [`${PREFIX}lock_acquisitions_total{result="success"}`, flags.streams],
    [`${PREFIX}lock_releases_total{result="success"}`, flags.streams],
    [`${PREFIX}dead_letters_total{reason="not_json"}`, 1],
    [`${PREFIX}startup_recoveries_total{result="success"}`, 1],
  ];
  const wrong = expected.filter(([series, value]) => sample(text, series) !== value);
  for (const [series, value] of wrong) console.error(`unexpected: ${series} is ${sample(text, series)}, expected ${value}`);
  if (!(sample(text, `${PREFIX}lock_extensions_total{result="success"}`)! > 0)) {
    console.error(`unexpected: no lock extension recorded`);
    return false;
  }
  if (wrong.length === 0) console.log('\nok: the metrics match the work done');
  return wrong.length === 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
