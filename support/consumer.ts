/**
 * The one consumer in a child process, for the crash tests, the chaos suite, the benchmark and
 * the demo (support/child.ts spawns it). A real `RedisStreamClient`, configured by environment
 * variables (support/protocol.ts, `ConsumerConfig`):
 *
 *   PROCESS=manual     (default) its own mergeMany over the notifications: CLAIM=1 claims every
 *                      StreamExpired; a stream handed out or claimed gets its WORK, then doneStream;
 *                      a StreamDisowned stops that work
 *   PROCESS=operators  client.init().pipe(claimExpired(client) (CLAIM=1), processStreams(client, WORK))
 *   PROCESS=consume    the same, the handler being consumeStream: an `entry` line per entry handled
 *   MAX_STREAMS, REBALANCE (true | false | consumed), REBALANCE_BATCH   the balanced fleet's options
 *   WORK=none | timer | steps | churn   what it does with a stream it owns (see ConsumerConfig.work)
 *   WORK=entries       (PROCESS=operators) consumeStream: a `handled` line per entry, with its fence,
 *                      a `committed` line per commit; it ends after an entry with the field `end` or `type: end`
 *   REPORT=events      (default) one JSON line per event, and the library's info+ log lines (`lib`)
 *   REPORT=counts      quiet counting for 100k streams: `owned` at TARGET, `progress` every 10k,
 *                      `disowned` at the first and every 10k
 *   TICKS=1            `tick` every hbInterval/2 with the lock extensions the library reported
 *   START_ON_SIGNAL=1  prints `loaded` and starts the client only on SIGUSR1
 *
 * Events: JSON lines on stdout (support/protocol.ts). Commands: JSON lines on stdin (heap, cpu,
 * block, stop). SIGUSR2 blocks the event loop for BLOCK_MS in a timer callback. SIGTERM: done()
 * (ON_SIGTERM=done, default) or shutdown() (ON_SIGTERM=shutdown), `stopped`, exit. It exits when
 * its stdin closes (the parent died).
 */
import { connectUrl } from './redis-url';
import { EMPTY, NEVER, Observable, Subscription, catchError, defer, identity, ignoreElements, of, tap, timer } from 'rxjs';
import { RedisStreamClient, claimExpired, consumeStream, processStreams } from '../lib';
import { mergeMany } from '../lib/operators/merge-many';
import type { Claimed, ClientOptions, Logger, MetricsRecorder, Notification, OwnedStreamInfo, StreamExpired, StreamOutcome } from '../lib';
import { cpuReport, heapReport } from './consumer-probes';
import { workOf } from './consumer-work';
import { onJsonLines } from './processes';
import { Command, EventBody, about, asCommand, consumerName, fromEnv, shortName } from './protocol';

const config = fromEnv();
const consumer = consumerName(config);
const events = (config.report ?? 'events') === 'events';
const work = workOf(config);
const counts = { added: 0, disowned: 0, released: 0, claimed: 0, expired: 0, claimsLost: 0, finished: 0, failedDone: 0 };

const emit = (body: EventBody): void => void process.stdout.write(`${JSON.stringify({ ...body, at: Date.now(), consumer, pid: process.pid })}\n`);

const describeErr = (err: unknown): { code?: string; message: string } => {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return { code: typeof e?.code === 'string' ? e.code : undefined, message: typeof e?.message === 'string' ? e.message.slice(0, 300) : String(err).slice(0, 300) };
};

/** TICKS=1: the heartbeat's and the claims' figures for the `tick` lines (see TickDiag). */
const diag = { hbMaxMs: 0, hbFailed: 0, claimMaxMs: 0, judged: 0, statusLost: 0, retaken: 0, strays: 0, firstExtMaxMs: 0, firstExtOverTtl: 0 };
/** When each stream's claim was answered, until its first extension is. */
const claimedAt = new Map<string, number>();

/** Counts the library's log lines that say why streams were dropped (also with REPORT=counts). */
const countCauses = (obj: object, msg?: string): void => {
  const streams = typeof (obj as { streams?: unknown }).streams === 'number' ? (obj as { streams: number }).streams : 1;
  if (msg?.startsWith('Redis has not confirmed these locks')) diag.judged += streams;
  else if (msg?.startsWith('stream disowned: another consumer holds its lock')) diag.statusLost++;
  else if (msg === 're-took a lock that had vanished') diag.retaken++;
  else if (msg?.startsWith('heartbeat failed')) diag.hbFailed++;
  else if (msg?.startsWith('locks kept alive for streams dropped meanwhile')) diag.strays += streams;
};

/** The library's logger: `ready` when the client started; info and above as `lib` lines (the evidence when a check fails). */
const line =
  (level: string) =>
  (obj: object, msg?: string): void => {
    if (msg === 'client started') emit({ event: 'ready' });
    if (config.ticks) countCauses(obj, msg);
    if (!events) return;
    const o = obj as Record<string, unknown>;
    const stream = typeof o.stream === 'string' ? shortName(o.stream) : undefined;
    const detail = o.err === undefined ? undefined : describeErr(o.err).message;
    const extra = Object.entries(o)
      .filter(([k, v]) => !['stream', 'err', 'id'].includes(k) && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'))
      .map(([k, v]) => `${k}=${String(v).slice(0, 80)}`)
      .join(' ');
    emit({ event: 'lib', level, message: [msg, extra, detail].filter(Boolean).join(' | '), stream, id: typeof o.id === 'string' ? o.id : undefined });
  };
const logger: Logger = { debug: (obj, msg) => void (config.ticks && countCauses(obj, msg)), info: line('info'), warn: line('warn'), error: line('error') };

/** TICKS=1: the lock extensions the library reports, and the `diag` figures, printed every hbInterval/2. */
const ticks = { beats: 0, extended: 0, extendFailed: 0 };
const ttl = config.hbInterval ?? 2000;
const metrics: MetricsRecorder = {
  recordLockExtensionAttempt: (stream, ok) => {
    if (ok) ticks.extended++;
    else ticks.extendFailed++;
    const at = claimedAt.get(stream);
    if (at === undefined) return;
    claimedAt.delete(stream);
    const ms = Date.now() - at;
    diag.firstExtMaxMs = Math.max(diag.firstExtMaxMs, ms);
    if (ms > ttl) diag.firstExtOverTtl++;
  },
  recordHeartbeat: (_locks, _ok, ms) => {
    diag.hbMaxMs = Math.max(diag.hbMaxMs, Math.round(ms));
  },
  recordClaimAttempt: (stream, won, ms) => {
    diag.claimMaxMs = Math.max(diag.claimMaxMs, Math.round(ms));
    if (won) claimedAt.set(stream, Date.now());
  },
};
const ticker = config.ticks
  ? setInterval(() => {
      emit({ event: 'tick', ...ticks, beats: ++ticks.beats, diag: { ...diag } });
      diag.hbMaxMs = 0;
      diag.claimMaxMs = 0;
      diag.firstExtMaxMs = 0;
    }, ttl / 2)
  : undefined;

const redis = connectUrl(config.redisUrl, { connectionName: `consumer-${config.pod}` });

const options: ClientOptions = {
  consumerId: config.pod,
  ...(config.hbInterval === undefined ? {} : { hbInterval: config.hbInterval }),
  ...(config.lbsIdleTime === undefined ? {} : { lbsIdleTime: config.lbsIdleTime }),
  ...(config.readCount === undefined ? {} : { readCount: config.readCount }),
  ...(config.maxStreams === undefined ? {} : { maxStreams: config.maxStreams }),
  ...(config.rebalance === undefined ? {} : { rebalance: config.rebalance === 'consumed' ? 'consumed' : config.rebalance === 'true' }),
  ...(config.rebalanceBatch === undefined ? {} : { rebalanceBatch: config.rebalanceBatch }),
  retry: { maxRetries: -1, initialDelay: 50, maxDelay: 500 },
  logger,
  ...(config.ticks ? { metrics } : {}),
};

/** Prints (events) or counts (counts) one notification; `workMs`: the work planned for it. */
const report = (n: Notification, workMs?: number): void => {
  if (n.type === 'StreamAdded') {
    counts.added++;
    if (events) emit({ event: 'added', ...about(n.payload), info: n.additionalInfo, workMs: workMs === undefined ? undefined : Math.round(workMs) });
    else if (config.target && counts.added === config.target) emit({ event: 'owned', count: counts.added });
    else if (counts.added % 10_000 === 0) emit({ event: 'progress', count: counts.added });
  } else if (n.type === 'StreamDisowned') {
    counts.disowned++;
    if (events) emit({ event: 'disowned', ...about(n.payload) });
    else if (counts.disowned === 1 || counts.disowned % 10_000 === 0) emit({ event: 'disowned', ...about(n.payload), count: counts.disowned });
  } else if (n.type === 'StreamReleased') {
    counts.released++;
    if (events) emit({ event: 'released', ...about(n.payload), reason: n.reason });
    else if (counts.released === 1 || counts.released % 10_000 === 0) emit({ event: 'released', ...about(n.payload), reason: n.reason, count: counts.released });
  } else if (n.type === 'StreamExpired') {
    counts.expired++;
    if (events) emit({ event: 'expired', ...about(n.payload) });
  }
};

/** PROCESS=manual: the work on each owned stream, by name. */
const working = new Map<string, Subscription>();

const stopWork = (name: string): void => {
  working.get(name)?.unsubscribe();
  working.delete(name);
};

const finish = (client: RedisStreamClient, payload: Claimed['payload'], startedAt: number): void => {
  working.delete(payload.dataStreamName);
  client.doneStream(payload.dataStreamName).subscribe({
    complete: () => {
      counts.finished++;
      if (events) emit({ event: 'finished', ...about(payload), startedAt });
    },
    error: (err: unknown) => {
      counts.failedDone++;
      if (events) emit({ event: 'done-refused', ...about(payload), code: describeErr(err).code });
    },
  });
};

const startWork = (client: RedisStreamClient, owned: Claimed, workMs: number | undefined): void => {
  const name = owned.payload.dataStreamName;
  stopWork(name);
  if (workMs === undefined) return;
  const startedAt = Date.now();
  working.set(name, work.run(workMs).subscribe({ complete: () => finish(client, owned.payload, startedAt) }));
};

/** Claims a stream that lost its owner; losing the race to another consumer is normal. */
const claim = (client: RedisStreamClient, n: StreamExpired): Observable<never> =>
  client.claim(n.payload).pipe(
    tap((claimed) => {
      counts.claimed++;
      const workMs = work.plan(claimed);
      if (events) emit({ event: 'claimed', ...about(claimed.payload), info: claimed.additionalInfo, workMs: workMs === undefined ? undefined : Math.round(workMs) });
      startWork(client, claimed, workMs);
    }),
    ignoreElements(),
    catchError((err: unknown) => {
      counts.claimsLost++;
      if (events) emit({ event: 'claim-lost', ...about(n.payload), code: describeErr(err).code });
      return EMPTY;
    }),
  );

const manual = (client: RedisStreamClient): Observable<unknown> =>
  client.init().pipe(
    mergeMany((n: Notification) => {
      if (n.type === 'StreamExpired') {
        report(n);
        return config.claim ? claim(client, n) : EMPTY;
      }
      if (n.type === 'StreamDisowned' || n.type === 'StreamReleased') {
        stopWork(n.payload.dataStreamName);
        report(n);
        return EMPTY;
      }
      const workMs = work.plan(n);
      report(n, workMs);
      startWork(client, n, workMs);
      return EMPTY;
    }),
  );

/** PROCESS=operators: when each entry's processing window opened (by LBS id). */
const openedAt = new Map<string, number>();

/**
 * WORK=entries: each entry handled in ENTRY_MS (0: at once), then a `handled` line; each id
 * consumeStream emits (handled and committed) a `committed` line; an entry with the field `end`,
 * or `type: end`, is the last. REPORT=counts prints neither.
 */
const consumeEntries = (stream: OwnedStreamInfo): Observable<unknown> => {
  let fence = -1;
  return consumeStream(
    client!,
    stream,
    (entry, ctx) => {
      fence = ctx.fence;
      return (config.entryMs ? timer(config.entryMs) : of(0)).pipe(
        tap({ complete: () => events && emit({ event: 'handled', ...about(stream.payload), entry: entry.id, fence: ctx.fence, fields: entry.fields }) }),
      );
    },
    {
      until: (entry) => entry.fields.end !== undefined || entry.fields.type === 'end',
      commitEvery: { ...(config.commitEntries === undefined ? {} : { entries: config.commitEntries }), ...(config.commitMs === undefined ? {} : { ms: config.commitMs }) },
    },
  ).pipe(tap((id) => events && emit({ event: 'committed', ...about(stream.payload), entry: id, fence })));
};

/** WORK=entries with REPORT=counts and no ENTRY_MS: the library alone (one handler and one config for every stream), what the heap benchmark measures. */
const quietEntryConfig = {
  until: (entry: { fields: Record<string, string> }) => entry.fields.end !== undefined || entry.fields.type === 'end',
  commitEvery: { ...(config.commitEntries === undefined ? {} : { entries: config.commitEntries }), ...(config.commitMs === undefined ? {} : { ms: config.commitMs }) },
};
const noWork = (): Observable<number> => of(0);

/** The processStreams handler: the planned work, with `started` and `work-done` (doneStream follows). */
const handler = (stream: OwnedStreamInfo): Observable<unknown> =>
  config.work === 'entries' && !events && !config.entryMs
    ? consumeStream(client!, stream, noWork, quietEntryConfig)
    : config.work === 'entries'
    ? defer(() => {
        openedAt.set(stream.payload.idInLbs, Date.now());
        if (events) emit({ event: 'started', ...about(stream.payload), workMs: 0 });
        return consumeEntries(stream).pipe(tap({ complete: () => events && emit({ event: 'work-done', ...about(stream.payload) }) }));
      })
    : defer(() => {
        const workMs = work.plan(stream);
        openedAt.set(stream.payload.idInLbs, Date.now());
        if (events) emit({ event: 'started', ...about(stream.payload), workMs: Math.round(workMs ?? 0) });
        if (workMs === undefined) return NEVER;
        return work.run(workMs).pipe(tap({ complete: () => events && emit({ event: 'work-done', ...about(stream.payload) }) }));
      });

const outcome = (o: StreamOutcome): void => {
  const startedAt = openedAt.get(o.payload.idInLbs);
  openedAt.delete(o.payload.idInLbs);
  if (o.type === 'Processed') counts.finished++;
  if (!events) return;
  if (o.type === 'Processed') emit({ event: 'finished', ...about(o.payload), startedAt });
  else if (o.type === 'Abandoned') emit({ event: 'abandoned', ...about(o.payload), startedAt });
  else if (o.type === 'Rebalanced') emit({ event: 'rebalanced', ...about(o.payload), startedAt });
  else emit({ event: 'failed', ...about(o.payload), startedAt, ...describeErr((o.error as { cause?: unknown }).cause ?? o.error) });
};

/** PROCESS=consume: reads the stream's entries with consumeStream, an `entry` line for each (after its work, if any). */
const consumer$ = (client: RedisStreamClient, stream: OwnedStreamInfo): Observable<unknown> => {
  if (events) emit({ event: 'started', ...about(stream.payload), workMs: 0 });
  return consumeStream(client, stream, (entry) => {
    emit({ event: 'entry', ...about(stream.payload), entryId: entry.id });
    return [undefined];
  });
};

const operators = (client: RedisStreamClient): Observable<unknown> =>
  client.init().pipe(
    tap((n) => report(n)),
    config.claim
      ? claimExpired(client, { onError: (err, info) => emit({ event: 'error', ...about(info), code: describeErr(err).code, message: `claim: ${describeErr(err).message}` }) })
      : identity,
    tap((n) => {
      if (n.type === 'StreamClaimed') counts.claimed++;
      if (n.type === 'StreamClaimed' && events) emit({ event: 'claimed', ...about(n.payload), info: n.additionalInfo });
    }),
    processStreams(client, config.process === 'consume' ? (stream) => consumer$(client, stream) : handler),
    tap(outcome),
  );

let client: RedisStreamClient | undefined;
let subscription: Subscription | undefined;

const start = (): void => {
  if (client !== undefined) return;
  const c = (client = new RedisStreamClient(redis, config.service, options));
  subscription = (config.process === 'operators' || config.process === 'consume' ? operators(c) : manual(c)).subscribe({
    error: (err: unknown) => {
      emit({ event: 'error', code: describeErr(err).code, message: `notifications$: ${describeErr(err).message}` });
      if (config.exitOnError) process.exit(1);
    },
    complete: () => emit({ event: 'completed' }),
  });
};

if (config.startOnSignal) {
  process.once('SIGUSR1', start);
  emit({ event: 'loaded' });
} else {
  start();
}

const exit = (code: number): void => {
  subscription?.unsubscribe();
  redis.disconnect();
  process.exit(code);
};

// The busy-wait runs in a timer callback, as a CPU-bound step of a job would (a signal handler
// runs in the I/O phase of the event loop, after which Node runs due timers before reading sockets).
const block = (ms = config.blockMs ?? 2500): void => {
  setTimeout(() => {
    emit({ event: 'block-start', ms });
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // busy-wait: no timer, no I/O, no heartbeat runs
    }
    emit({ event: 'block-end' });
  }, 0);
};
process.on('SIGUSR2', () => block());

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  for (const name of [...working.keys()]) stopWork(name);
  if (client === undefined) return exit(0);
  const end = (err?: unknown) => (): void => {
    emit({ event: 'stopped', code: err === undefined ? undefined : (describeErr(err).code ?? 'UNKNOWN') });
    exit(err === undefined ? 0 : 1);
  };
  (config.onSigterm === 'shutdown' ? client.shutdown() : client.done()).subscribe({ complete: end(), error: (err: unknown) => end(err)() });
  setTimeout(() => exit(1), 3000).unref();
});

const handle = (command: Command): void => {
  if (command.cmd === 'heap') emit(heapReport(counts));
  else if (command.cmd === 'cpu') void cpuReport(redis, command.ms, counts).then(emit);
  else if (command.cmd === 'block') block(command.ms);
  else exit(0);
};
onJsonLines(process.stdin, (value) => {
  const command = asCommand(value);
  if (command !== undefined) handle(command);
});
process.stdin.on('end', () => exit(0));
