/**
 * One consumer of the load-balancing example, run as its own process by main.ts (or by hand:
 * `SERVICE=my-service CONSUMER_ID=c1 node --require tsx/cjs examples/load-balancing/consumer.ts`).
 *
 * It processes every stream it is handed (`StreamAdded`) or claims after another consumer died
 * (`StreamClaimed`): it reads the data stream's entries and "works" on them for WORK_MS, then
 * `processStreams` calls `doneStream` (release the lock, XACK, XDEL). At most CONCURRENCY streams
 * are worked on at once; the others wait with their locks kept alive.
 *
 * Env: REDIS_URL (default redis://127.0.0.1:6379), SERVICE (required), CONSUMER_ID (default
 * `consumer-<pid>`), CONCURRENCY (default 2), WORK_MS (default 1000).
 * SIGTERM or SIGINT: `client.done()`, then exit. It also stops when main.ts goes away.
 */
import Redis from 'ioredis';
import { concatMap, from, map, tap, timer } from 'rxjs';
import { RedisStreamClient, claimExpired, processStreams } from '../../lib';
import type { OwnedStreamInfo } from '../../lib';
import { intEnv, report, requiredEnv } from './protocol';

const service = requiredEnv('SERVICE', 'consumer');
const consumer = process.env.CONSUMER_ID || `consumer-${process.pid}`;
const concurrency = intEnv('CONCURRENCY', 2);
const workMs = intEnv('WORK_MS', 1000);

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { connectionName: `lb-example-${consumer}` });
const client = new RedisStreamClient(redis, service, {
  consumerId: consumer,
  // The client's log: warnings and errors go to stderr (main.ts prints them). Its 'client started'
  // line (group created, reader open) tells main.ts this consumer is about to read the LBS.
  logger: {
    debug: () => undefined,
    info: (_obj, msg) => {
      if (msg === 'client started') report({ type: 'ready', consumer });
    },
    warn: (obj, msg) => process.stderr.write(`warn: ${msg ?? ''} ${JSON.stringify(obj)}\n`),
    error: (obj, msg) => process.stderr.write(`error: ${msg ?? ''} ${JSON.stringify(obj)}\n`),
  },
});

/** Entries seen and start time of each stream being worked on, for the report. */
const work = new Map<string, { entries: number; started: number }>();

/** The work on one stream: read its entries, then spend WORK_MS on them. Completing = done. */
const handler = (stream: OwnedStreamInfo) => {
  const name = stream.payload.dataStreamName;
  const started = Date.now();
  return from(redis.xrange(name, '-', '+')).pipe(
    tap((entries) => work.set(name, { entries: entries.length, started })),
    concatMap((entries) => timer(workMs).pipe(map(() => entries.length))),
  );
};

const subscription = client
  .init()
  .pipe(
    claimExpired(client),
    tap((n) => {
      if (n.type === 'StreamAdded' || n.type === 'StreamClaimed') {
        report({ type: 'got', consumer, stream: n.payload.dataStreamName, via: n.type });
      }
    }),
    processStreams(client, handler, { concurrency }),
  )
  .subscribe({
    next: (outcome) => {
      const name = outcome.payload.dataStreamName;
      const done = work.get(name);
      work.delete(name);
      report({
        type: 'outcome',
        consumer,
        stream: name,
        outcome: outcome.type,
        entries: done?.entries,
        ms: done === undefined ? undefined : Date.now() - done.started,
        error: outcome.type === 'Failed' ? outcome.error.message : undefined,
      });
    },
    error: (err: { code?: string; message?: string }) => {
      process.stderr.write(`${consumer} stopped: ${err.code ?? ''} ${err.message ?? String(err)}\n`);
      exit(1);
    },
  });

let stopping = false;

/** `done()` finishes (acknowledges) every stream this consumer still owns, then stops the client. */
function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  client.done().subscribe({
    complete: () => exit(0),
    error: (err: { message?: string }) => {
      process.stderr.write(`${consumer}: done() failed on ${why}: ${err.message ?? String(err)}\n`);
      exit(1);
    },
  });
}

function exit(code: number): void {
  process.exitCode = code;
  subscription.unsubscribe();
  // Nothing of the client is left after done(): once our own connection is closed, the process ends.
  void redis.quit().catch(() => undefined).finally(() =>
    report({ type: 'stopped', consumer }, () => {
      if (process.connected) process.disconnect();
    }),
  );
  setTimeout(() => process.exit(code), 5000).unref();
}

process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
// main.ts went away (its IPC channel closed): stop as well, rather than linger.
process.once('disconnect', () => stop('disconnect'));
