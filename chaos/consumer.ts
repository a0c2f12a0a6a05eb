/**
 * A chaos consumer, run as a child process by the chaos driver (chaos/driver.ts).
 *
 *   client.init().pipe(claimExpired(client), processStreams(client, handler))
 *
 * The handler is simulated work: a timer of WORK_MIN_MS..WORK_MAX_MS (or `Info.workMs` when the
 * producer sets it). It does not check ownership: the library tells it (a disowned stream's handler
 * is unsubscribed, outcome Abandoned). Every event is one JSON line on stdout (chaos/events.ts).
 *
 * Env: REDIS_URL, SERVICE, POD_NAME, HB_INTERVAL (ms), WORK_MIN_MS, WORK_MAX_MS, BLOCK_MS,
 * LBS_IDLE_TIME (optional).
 * START_ON_SIGNAL=1: wait for SIGUSR1 before starting the client (prints `loaded` meanwhile).
 * Signals: SIGUSR2 blocks the event loop with a busy-wait of BLOCK_MS (in a timer callback); SIGTERM hands every owned
 * stream back (`shutdown()`) and exits. The consumer exits when its stdin closes (the driver died).
 */
import Redis from 'ioredis';
import { Observable, Subscription, defer, tap, timer } from 'rxjs';
import { RedisStreamClient, claimExpired, processStreams } from '../lib';
import type { Logger, OwnedStreamInfo } from '../lib';
import { ConsumerEvent, shortName } from './events';

const env = {
  url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  service: process.env.SERVICE ?? 'chaos',
  pod: process.env.POD_NAME ?? `chaos-${process.pid}`,
  hb: Number(process.env.HB_INTERVAL ?? 1000),
  workMin: Number(process.env.WORK_MIN_MS ?? 300),
  workMax: Number(process.env.WORK_MAX_MS ?? 2000),
  blockMs: Number(process.env.BLOCK_MS ?? 2500),
  lbsIdleTime: process.env.LBS_IDLE_TIME === undefined ? undefined : Number(process.env.LBS_IDLE_TIME),
};
const consumer = `redis-consumer-${env.pod}`;

const print = (e: Omit<ConsumerEvent, 'at' | 'consumer' | 'pid'>): void =>
  void process.stdout.write(`${JSON.stringify({ ...e, at: Date.now(), consumer, pid: process.pid })}\n`);

const describeErr = (err: unknown): { code?: string; message?: string } => {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return { code: typeof e?.code === 'string' ? e.code : undefined, message: typeof e?.message === 'string' ? e.message.slice(0, 300) : String(err).slice(0, 300) };
};

/** The library's logger: info and above, as `lib` lines (the evidence when a check fails). */
const line =
  (level: string) =>
  (obj: object, msg?: string): void => {
    const o = obj as Record<string, unknown>;
    if (msg === 'client started') print({ ev: 'ready' });
    const stream = typeof o.stream === 'string' ? shortName(o.stream) : undefined;
    const detail = o.err === undefined ? undefined : describeErr(o.err).message;
    const extra = Object.entries(o)
      .filter(([k, v]) => !['stream', 'err', 'id'].includes(k) && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'))
      .map(([k, v]) => `${k}=${String(v).slice(0, 80)}`)
      .join(' ');
    print({ ev: 'lib', level, message: [msg, extra, detail].filter(Boolean).join(' | '), stream, id: typeof o.id === 'string' ? o.id : undefined });
  };
const logger: Logger = { debug: () => undefined, info: line('info'), warn: line('warn'), error: line('error') };

const redis = new Redis(env.url, { connectionName: `chaos-${env.pod}` });
redis.on('error', () => undefined);

const about = (s: { payload: { dataStreamName: string; idInLbs: string } }) => ({
  stream: shortName(s.payload.dataStreamName),
  nameLength: s.payload.dataStreamName.length,
  id: s.payload.idInLbs,
});

/** When each entry's window opened (by LBS id). */
const openedAt = new Map<string, number>();

const work = (stream: OwnedStreamInfo): Observable<unknown> =>
  defer(() => {
    const planned = Number(stream.additionalInfo.workMs);
    const workMs = Number.isFinite(planned) && planned > 0 ? planned : env.workMin + Math.random() * (env.workMax - env.workMin);
    openedAt.set(stream.payload.idInLbs, Date.now());
    print({ ev: 'started', ...about(stream), workMs: Math.round(workMs) });
    // work-done: the handler completed; processStreams calls doneStream next (finished follows its reply).
    return timer(workMs).pipe(tap({ complete: () => print({ ev: 'work-done', ...about(stream) }) }));
  });

let client: RedisStreamClient | undefined;
let subscription: Subscription | undefined;

const start = (): void => {
  if (client !== undefined) return;
  const c = (client = new RedisStreamClient(redis, env.service, {
    consumerId: env.pod,
    hbInterval: env.hb,
    ...(env.lbsIdleTime === undefined ? {} : { lbsIdleTime: env.lbsIdleTime }),
    retry: { maxRetries: -1, initialDelay: 50, maxDelay: 500 },
    logger,
  }));
  subscription = c
    .init()
    .pipe(
      tap((n) => {
        const ev = n.type === 'StreamAdded' ? 'added' : n.type === 'StreamExpired' ? 'expired' : 'disowned';
        print({ ev, ...about(n) });
      }),
      claimExpired(c, { onError: (err, info) => print({ ev: 'error', ...about({ payload: info }), ...describeErr(err), message: `claim: ${describeErr(err).message}` }) }),
      tap((n) => {
        if (n.type === 'StreamClaimed') print({ ev: 'claimed', ...about(n) });
      }),
      processStreams(c, work),
    )
    .subscribe({
      next: (outcome) => {
        const startedAt = openedAt.get(outcome.payload.idInLbs);
        openedAt.delete(outcome.payload.idInLbs);
        if (outcome.type === 'Processed') print({ ev: 'finished', ...about(outcome), startedAt });
        else if (outcome.type === 'Abandoned') print({ ev: 'abandoned', ...about(outcome), startedAt });
        else {
          const cause = (outcome.error as { cause?: unknown }).cause;
          print({ ev: 'failed', ...about(outcome), startedAt, ...describeErr(cause ?? outcome.error) });
        }
      },
      error: (err: unknown) => print({ ev: 'error', ...describeErr(err), message: `notifications$: ${describeErr(err).message}` }),
      complete: () => print({ ev: 'completed' }),
    });
};

// START_ON_SIGNAL=1: load everything, say so, and start the client only on SIGUSR1 (a restart
// that takes milliseconds, not the few hundred a fresh Node process needs).
if (process.env.START_ON_SIGNAL === '1') {
  process.once('SIGUSR1', start);
  print({ ev: 'loaded' });
} else {
  start();
}

// The busy-wait runs in a timer callback, as a CPU-bound step of a job would (a signal handler
// runs in the I/O phase of the event loop, after which Node runs due timers before reading sockets).
process.on('SIGUSR2', () => {
  setTimeout(() => {
    print({ ev: 'block-start', workMs: env.blockMs });
    const until = Date.now() + env.blockMs;
    while (Date.now() < until) {
      // busy-wait: no timer, no I/O, no heartbeat runs
    }
    print({ ev: 'block-end' });
  }, 0);
});

let stopping = false;
const exit = (code: number): void => {
  subscription?.unsubscribe();
  redis.disconnect();
  process.exit(code);
};
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  if (client === undefined) return exit(0);
  client.shutdown().subscribe({ complete: () => exit(0), error: () => exit(1) });
  setTimeout(() => exit(1), 3000).unref();
});
process.stdin.on('end', () => exit(0));
process.stdin.resume();
