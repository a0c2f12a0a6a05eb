/**
 * One consumer of the fleet (main.ts starts several): takes data streams from the service's
 * load-balancer stream, reads each with `consumeStream`, and writes every entry's effect into
 * PostgreSQL with the stream's fence in the write's condition (store.ts). Prints one JSON line per
 * event on stdout: `ready`, `write` (applied / stale / repeated), `outcome`, `error`.
 *
 * Environment: REDIS_URL, SERVICE, POD_NAME, TABLES (the tables' prefix), HB_INTERVAL (ms).
 * SIGTERM: `shutdown()` (the streams are handed back with their commits flushed), then exit.
 */
import Redis from 'ioredis';
import { Pool } from 'pg';
import { from, tap } from 'rxjs';
import { RedisStreamClient, claimExpired, consumeStream, processStreams } from '../../lib';
import { apply, pgConfig } from './store';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`env ${name} is required`);
  return value;
};

const service = env('SERVICE');
const prefix = env('TABLES');
const say = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ ...event, pid: process.pid, at: Date.now() })}\n`);

const pool = new Pool({ ...pgConfig(), max: 4 });
pool.on('error', (err) => say({ event: 'error', message: `pg: ${err.message}` }));
const redis = new Redis(env('REDIS_URL'));
redis.on('error', () => undefined);

const client = new RedisStreamClient(redis, service, {
  consumerId: env('POD_NAME'),
  hbInterval: Number(process.env.HB_INTERVAL ?? 1000),
  retry: { maxRetries: -1 },
  logger: { debug: () => undefined, info: (_o, msg) => msg === 'client started' && say({ event: 'ready' }), warn: () => undefined, error: () => undefined },
});

const subscription = client
  .init()
  .pipe(
    claimExpired(client),
    processStreams(
      client,
      (stream) =>
        consumeStream(
          client,
          stream,
          (entry, ctx) =>
            from(apply(pool, prefix, { stream: ctx.dataStreamName, entryId: entry.id, n: Number(entry.fields.n), fence: ctx.fence, consumer: client.id })).pipe(
              tap((result) => say({ event: 'write', result, stream: ctx.dataStreamName, entry: entry.id, fence: ctx.fence })),
            ),
          { until: (entry) => entry.fields.type === 'end', commitEvery: { entries: 20, ms: 200 } },
        ),
      { concurrency: 100 },
    ),
  )
  .subscribe({
    next: (outcome) => say({ event: 'outcome', type: outcome.type, stream: outcome.payload.dataStreamName }),
    error: (err: unknown) => say({ event: 'error', message: String(err) }),
  });

process.on('SIGTERM', () => {
  client.shutdown().subscribe({
    error: () => undefined,
    complete: () => {
      subscription.unsubscribe();
      redis.disconnect();
      void pool.end().finally(() => process.exit(0));
    },
  });
  setTimeout(() => process.exit(1), 3000).unref();
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
