/**
 * One consumer of the demo fleet, run as a child process by demo/run.ts.
 *
 * It subscribes to the library's notifications, "processes" every stream it is handed or claims
 * (simulated work: a chain of short steps, WORK_MIN_MS..WORK_MAX_MS in all), then calls
 * `doneStream`. It claims every `StreamExpired` it hears and drops the work of a stream it is told
 * it no longer owns (`StreamDisowned`). It reports everything as JSON lines (demo/protocol.ts).
 *
 * Env: REDIS_URL, SERVICE, POD_NAME, HB_INTERVAL (ms), WORK_MIN_MS, WORK_MAX_MS.
 * SIGTERM: `client.done()`, then exit. It also exits when the runner goes away (stdin closes).
 */
import Redis from 'ioredis';
import { EMPTY, Observable, catchError, mergeMap, tap } from 'rxjs';
import { RedisStreamClient } from '../lib';
import type { Notification, StreamExpired } from '../lib';
import { emit } from './protocol';

/** One step of simulated work. A step whose timer fires late (the process was stopped) does not count. */
const STEP_MS = 250;

const env = {
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  service: required('SERVICE'),
  hbInterval: Number(process.env.HB_INTERVAL ?? 1000),
  workMinMs: Number(process.env.WORK_MIN_MS ?? 6000),
  workMaxMs: Number(process.env.WORK_MAX_MS ?? 10000),
};

const stats = { beats: 0, extended: 0, extendFailed: 0 };
const work = new Map<string, NodeJS.Timeout>();

const redis = new Redis(env.redisUrl, { connectionName: `demo-${process.env.POD_NAME ?? 'consumer'}` });
redis.on('error', () => undefined);

const client = new RedisStreamClient(redis, env.service, {
  hbInterval: env.hbInterval,
  retry: { maxRetries: -1, initialDelay: 50, maxDelay: 500 },
  metrics: {
    recordLockExtensionAttempt: (_stream, ok) => void (ok ? stats.extended++ : stats.extendFailed++),
  },
});

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`demo consumer: env ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

/** Simulated processing time of one stream, a whole number of steps. */
function pickWorkMs(): number {
  const ms = env.workMinMs + Math.random() * (env.workMaxMs - env.workMinMs);
  return Math.max(1, Math.round(ms / STEP_MS)) * STEP_MS;
}

/** Works on a stream step by step, then marks it done. */
function startWork(stream: string, workMs: number): void {
  let stepsLeft = workMs / STEP_MS;
  const step = (dueAt: number): void => {
    const stalled = Date.now() - dueAt > STEP_MS;
    if (!stalled) stepsLeft--;
    if (stepsLeft <= 0) return finish(stream);
    const next = Date.now() + STEP_MS;
    work.set(stream, setTimeout(() => step(next), STEP_MS));
  };
  const first = Date.now() + STEP_MS;
  work.set(stream, setTimeout(() => step(first), STEP_MS));
}

function stopWork(stream: string): void {
  clearTimeout(work.get(stream));
  work.delete(stream);
}

/** `doneStream`: release the lock, XACK and XDEL. Refused (NOT_OWNER) if another consumer took the stream meanwhile. */
function finish(stream: string): void {
  work.delete(stream);
  const started = Date.now();
  client.doneStream(stream).subscribe({
    complete: () => emit({ event: 'done', stream, heldMs: Date.now() - started }),
    error: (err: { code?: string }) => emit({ event: 'done-refused', stream, code: err.code ?? 'UNKNOWN' }),
  });
}

/** Claims a stream that lost its owner; losing the race to another consumer is normal. */
function claim(n: StreamExpired): Observable<never> {
  const stream = n.payload.dataStreamName;
  emit({ event: 'expired', stream, id: n.payload.idInLbs });
  return client.claim(n.payload).pipe(
    tap((claimed) => {
      const workMs = pickWorkMs();
      emit({ event: 'claimed', stream, id: claimed.payload.idInLbs, workMs });
      startWork(stream, workMs);
    }),
    mergeMap(() => EMPTY),
    catchError((err: { code?: string }) => {
      emit({ event: 'claim-lost', stream, code: err.code ?? 'UNKNOWN' });
      return EMPTY;
    }),
  );
}

function handle(n: Notification): Observable<never> {
  const stream = n.payload.dataStreamName;
  switch (n.type) {
    case 'StreamAdded': {
      const workMs = pickWorkMs();
      emit({ event: 'added', stream, id: n.payload.idInLbs, workMs });
      startWork(stream, workMs);
      return EMPTY;
    }
    case 'StreamExpired':
      return claim(n);
    case 'StreamDisowned':
      stopWork(stream);
      emit({ event: 'disowned', stream });
      return EMPTY;
  }
}

function shutdown(): void {
  clearInterval(ticker);
  for (const stream of [...work.keys()]) stopWork(stream);
  const exit = (): void => {
    emit({ event: 'stopped' });
    void redis.quit().finally(() => process.exit(0));
  };
  client.done().subscribe({ complete: exit, error: exit });
}

client
  .init()
  .pipe(mergeMap(handle))
  .subscribe({
    error: (err: { code?: string; message?: string }) => {
      emit({ event: 'error', code: err.code ?? 'UNKNOWN', message: err.message ?? String(err) });
      process.exit(1);
    },
  });

const ticker = setInterval(() => {
  stats.beats++;
  emit({ event: 'tick', ...stats });
}, env.hbInterval / 2);

emit({ event: 'ready', consumer: client.id });
process.once('SIGTERM', shutdown);
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => process.exit(0));
