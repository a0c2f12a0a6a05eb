import type Redis from 'ioredis';
import { Analysis, FaultRecord, ProcRecord, RedisState, analyse, redisState } from './checks';
import { ConsumerProc } from './consumers';
import type { ConsumerEvent } from '../support/protocol';
import { Producer } from './producer';
import { SilentProxy } from './proxy';
import { RIDE_OUT, RedisServer } from '../support/redis-server';
import { SentinelDeployment } from '../support/sentinel';
import { LocalCluster } from '../support/cluster';
import { clusterUrl, connectUrl } from '../support/redis-url';
import { sleep, waitUntil } from '../support/service';

/** Timings of one run; `quick` shortens every phase. */
export interface RunSettings {
  readonly quick: boolean;
  /** heartbeat interval = lock TTL of every consumer, ms */
  readonly hbInterval: number;
  /** the producer adds one stream every this many ms */
  readonly produceEveryMs: number;
  /** consumers work before the fault */
  readonly warmupMs: number;
  /** the producer keeps adding this long after the fault ended */
  readonly afterFaultMs: number;
  /** most time to wait for quiescence */
  readonly settleTimeoutMs: number;
  readonly workMinMs: number;
  readonly workMaxMs: number;
  /** the work of one entry of a data stream (a stream of work W gets W / entryMs entries) */
  readonly entryMs: number;
  /** consumeStream's commitEvery: the bound of entries handled twice after a crash is `commitEntries` */
  readonly commitEntries: number;
  readonly commitMs: number;
}

export const settingsFor = (quick: boolean): RunSettings => ({
  quick,
  hbInterval: 1000,
  produceEveryMs: quick ? 150 : 120,
  warmupMs: quick ? 1500 : 2000,
  afterFaultMs: quick ? 1500 : 3000,
  settleTimeoutMs: 15_000,
  workMinMs: 300,
  workMaxMs: 2000,
  entryMs: 50,
  commitEntries: 5,
  commitMs: 1000,
});

/** What a case's fault and checks can use. */
export interface CaseContext {
  readonly caseName: string;
  readonly run: number;
  readonly settings: RunSettings;
  readonly hb: number;
  readonly service: string;
  /** unique per run, for stream names */
  readonly tag: string;
  /** the Redis of the run (behind Sentinel: the first primary) */
  readonly server: RedisServer;
  /** the Sentinel deployment of a case with `deployment: 'sentinel'` (consumers, producer and admin connect through it) */
  readonly sentinel?: SentinelDeployment;
  /** the local Cluster (3 primaries + 3 replicas) of a case with `deployment: 'cluster'` */
  readonly cluster?: LocalCluster;
  /** a connection straight to Redis for the driver */
  readonly admin: Redis;
  readonly producer: Producer;
  /** every consumer process of the run, also the dead and the restarted ones */
  readonly consumers: ConsumerProc[];
  readonly proxies: Map<ConsumerProc, SilentProxy>;
  /** starts one more consumer (through a proxy of its own if the case uses proxies); `held`: it loads, then waits for SIGUSR1 */
  spawn(pod: string, opts?: { held?: boolean }): Promise<ConsumerProc>;
  waitReady(procs: readonly ConsumerProc[], timeoutMs?: number): Promise<void>;
  /** the live consumer with the most open windows (waits until one has `min`) */
  owner(opts?: { min?: number; filter?: (e: ConsumerEvent) => boolean; timeoutMs?: number }): Promise<ConsumerProc>;
  live(): ConsumerProc[];
  note(message: string): void;
}

/** One named fault. */
export interface CaseDef {
  readonly name: string;
  readonly title: string;
  /** consumers at the start (default 3) */
  readonly consumers?: number;
  /** the consumers' `rebalance` option (default: the client's, a balanced fleet) */
  readonly rebalance?: 'true' | 'false' | 'consumed';
  /** every consumer talks to Redis through a SilentProxy of its own */
  readonly proxy?: boolean;
  readonly redisArgs?: readonly string[];
  /** `sentinel`: a primary, a replica and three sentinels (support/sentinel.ts) instead of one server */
  readonly deployment?: 'sentinel' | 'cluster';
  /** kinds of entries that must end in `<service>-dead` */
  readonly mustDeadLetter?: readonly string[];
  /** kinds of entries that may end in `<service>-dead` (with a reason) instead of being processed */
  readonly mayDeadLetter?: readonly string[];
  /**
   * a primary fails over: a `doneStream` the failed primary acknowledged but never replicated is
   * lost with it, and the entry is done again later (one owner after the other): counted in a
   * note, not a failure (overlapping owners still are)
   */
  readonly doneMayBeLost?: boolean;
  /** the fault must interrupt at least one processing window, and every one must be taken up again */
  readonly expectInterrupted?: boolean;
  /** the case's own assertion, in one line (printed with the table) */
  readonly assertion: string;
  /** before the warm-up ends, e.g. special entries */
  setup?(ctx: CaseContext): Promise<void>;
  inject(ctx: CaseContext): Promise<FaultRecord>;
  /** the case's own assertion: the failures it finds */
  check?(ctx: CaseContext, analysis: Analysis, state: RedisState, fault: FaultRecord): string[];
}

export interface RunResult {
  readonly case: string;
  readonly run: number;
  readonly ok: boolean;
  readonly failures: string[];
  readonly notes: string[];
  readonly settled: boolean;
  readonly settleMs: number;
  readonly durationMs: number;
  readonly analysis: Omit<Analysis, 'windows'> & { windows: number };
  readonly state: Omit<RedisState, 'dead'> & { dead: RedisState['dead'] };
  readonly fault: FaultRecord;
  /** every consumer's events, for the evidence (written to results.json only with --logs) */
  readonly logs?: Record<string, ConsumerEvent[]>;
  readonly error?: string;
}

const timeoutAfter = async <T>(ms: number, what: string, p: Promise<T>): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * One run of one case: a private redis-server, the consumers, the producer; warm-up, the fault,
 * more production, quiescence; then the checks, from Redis's state and the consumers' logs.
 * Everything started here is stopped before it returns (also when it throws).
 */
export const runCase = async (def: CaseDef, run: number, settings: RunSettings, opts: { keepLogs?: boolean } = {}): Promise<RunResult> => {
  const started = Date.now();
  const hb = settings.hbInterval;
  const service = `chaos-${def.name}-${run}`;
  const tag = `r${run}`;
  const notes: string[] = [];
  const sentinel = def.deployment === 'sentinel' ? await SentinelDeployment.start() : undefined;
  const cluster = def.deployment === 'cluster' ? await LocalCluster.start({ args: def.redisArgs ?? [] }) : undefined;
  const server = sentinel?.servers[0] ?? cluster?.nodes[0] ?? (await RedisServer.start({ args: def.redisArgs ?? [] }));
  const redisUrl = sentinel?.url ?? (cluster === undefined ? server.url : clusterUrl(cluster.seeds));
  const admin = cluster === undefined ? (sentinel ?? server).connect({ ...RIDE_OUT, connectionName: 'chaos-admin' }) : connectUrl(redisUrl, { ...RIDE_OUT, connectionName: 'chaos-admin' });
  const producer = new Producer(redisUrl, service, tag, sentinel === undefined && cluster === undefined ? 0 : 1, { entryMs: settings.entryMs, minMs: settings.workMinMs, maxMs: settings.workMaxMs });
  const consumers: ConsumerProc[] = [];
  const proxies = new Map<ConsumerProc, SilentProxy>();
  let fault: FaultRecord = { at: Date.now(), endAt: Date.now(), pauseMs: 0, targets: [], notes: [] };

  const spawn = async (pod: string, { held = false } = {}): Promise<ConsumerProc> => {
    let url = redisUrl;
    let proxy: SilentProxy | undefined;
    if (def.proxy) {
      proxy = await SilentProxy.start(server.port);
      url = proxy.url;
    }
    const { workMinMs, workMaxMs, entryMs, commitEntries, commitMs } = settings;
    const proc = new ConsumerProc(consumers.length, { redisUrl: url, service, pod, hbInterval: hb, workMinMs, workMaxMs, entryMs, commitEntries, commitMs, blockMs: Math.round(3.5 * hb), startOnSignal: held, rebalance: def.rebalance });
    consumers.push(proc);
    if (proxy !== undefined) proxies.set(proc, proxy);
    return proc;
  };

  const live = () => consumers.filter((c) => c.alive);
  const ctx: CaseContext = {
    caseName: def.name,
    run,
    settings,
    hb,
    service,
    tag,
    server,
    ...(sentinel === undefined ? {} : { sentinel }),
    ...(cluster === undefined ? {} : { cluster }),
    admin,
    producer,
    consumers,
    proxies,
    spawn,
    live,
    note: (m) => void notes.push(m),
    waitReady: async (procs, timeoutMs = 15_000) => {
      await waitUntil(() => procs.every((p) => p.of('ready').length > 0 || !p.alive), timeoutMs, 'consumers ready', 25);
      const dead = procs.filter((p) => !p.alive);
      if (dead.length > 0) throw new Error(`consumer(s) died before being ready: ${dead.map((p) => `${p.name}[${p.pid}] code ${p.exitCode} signal ${p.exitSignal}: ${p.stderr.join(' ').slice(0, 300)}`).join('; ')}`);
    },
    owner: async ({ min = 1, filter = () => true, timeoutMs = 8000 } = {}) => {
      let best: ConsumerProc | undefined;
      await waitUntil(
        () => {
          const counts = live().map((c) => ({ c, n: [...c.openWindows().values()].filter(filter).length }));
          counts.sort((a, b) => b.n - a.n);
          best = counts[0] !== undefined && counts[0].n >= min ? counts[0].c : undefined;
          return best !== undefined;
        },
        timeoutMs,
        `a consumer holding ${min} stream(s)`,
        25,
      );
      return best!;
    },
  };

  let state: RedisState | undefined;
  let settled = false;
  let settleMs = 0;
  let error: string | undefined;
  let teardownAt = Date.now();
  try {
    for (let i = 0; i < (def.consumers ?? 3); i++) await spawn(`c${i}`);
    await ctx.waitReady(consumers, 30_000); // 10 processes loading at once on a busy machine can take more than 15 s
    producer.start(settings.produceEveryMs);
    const warmupEnd = Date.now() + settings.warmupMs;
    await def.setup?.(ctx);
    await sleep(Math.max(0, warmupEnd - Date.now()));
    fault = await def.inject(ctx);
    notes.push(...fault.notes);
    await sleep(Math.max(0, fault.endAt + settings.afterFaultMs - Date.now()));
    await timeoutAfter(60_000, 'the producer to stop', producer.stop());

    const settleStart = Date.now();
    let quietPolls = 0;
    while (Date.now() - settleStart < settings.settleTimeoutMs) {
      const s = await timeoutAfter(10_000, 'reading Redis state', redisState(admin, service));
      const open = live().some((c) => c.openWindows().size > 0);
      quietPolls = s.xlen === 0 && s.pending <= 0 && s.locks.length === 0 && !open ? quietPolls + 1 : 0;
      if (quietPolls >= 2) {
        settled = true;
        break;
      }
      await sleep(250);
    }
    settleMs = Date.now() - settleStart;
    state = await timeoutAfter(10_000, 'reading Redis state', redisState(admin, service));
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  } finally {
    teardownAt = Date.now();
    for (const c of live()) c.signal('SIGCONT');
    for (const c of live()) c.signal('SIGTERM');
    await Promise.all(consumers.map((c) => c.waitExit(3000)));
    await Promise.all(consumers.map((c) => c.kill()));
    for (const p of proxies.values()) p.close();
    await timeoutAfter(12_000, 'the producer to stop', producer.stop()).catch(() => undefined);
    producer.close();
    admin.disconnect();
    await (sentinel ?? cluster ?? server).stop();
  }

  // Judged as they were when the run settled: the SIGTERM of the teardown closes nothing.
  const procs: ProcRecord[] = consumers.map((c) => ({
    pid: c.pid,
    consumer: c.name,
    events: c.events.filter((e) => e.at <= teardownAt),
    exitedAt: c.exitedAt !== undefined && c.exitedAt <= teardownAt ? c.exitedAt : undefined,
  }));
  const emptyState: RedisState = { xlen: -1, pending: -1, locks: [], deadlines: -1, dead: [], flags: '' };
  const finalState = state ?? emptyState;
  const analysis = analyse({
    added: producer.added,
    procs,
    state: finalState,
    fault,
    hbInterval: hb,
    settled,
    now: teardownAt,
    mustDeadLetter: def.mustDeadLetter ?? [],
    mayDeadLetter: def.mayDeadLetter ?? [],
    commitEntries: settings.commitEntries,
    writesMayVanish: def.doneMayBeLost === true,
  });
  const failures = def.doneMayBeLost ? analysis.failures.filter((f) => !f.startsWith('finished more than once')) : [...analysis.failures];
  const lostCommits = analysis.entries?.afterLostCommit;
  if (lostCommits !== undefined && lostCommits.count > 0) {
    notes.push(`entries handled again after the failover lost their commit: ${lostCommits.count} (at most ${lostCommits.maxPerTake} in one take)`);
  }
  if (def.doneMayBeLost && analysis.finishedTwice.length > 0) {
    notes.push(`finished again after the failover lost its acknowledgement: ${analysis.finishedTwice.length} (${analysis.finishedTwice.slice(0, 3).join(', ')})`);
  }
  if (error !== undefined) failures.unshift(`run error: ${error}`);
  const hung = producer.added.filter((a) => a.error?.startsWith('no reply'));
  if (hung.length > 0) notes.push(`${hung.length} XADD(s) of the producer got no reply: ${hung[0]!.error}; its connection: ${producer.connectionLog.slice(-8).map((l) => l.replace(/^(\d+)/, (t) => String(Number(t) - fault.at))).join(', ')} (ms from the fault)`);
  if (def.expectInterrupted) {
    if (analysis.interrupted.length === 0) failures.push('the fault interrupted no processing window: the run proves nothing');
    if (analysis.unrecovered.length > 0) failures.push(`interrupted entries never taken up again: ${analysis.unrecovered.slice(0, 5).join(', ')}`);
  }
  if (state !== undefined && def.check !== undefined) failures.push(...def.check(ctx, analysis, finalState, fault));
  for (const c of consumers) {
    if (c.exitedAt !== undefined && c.exitedAt <= teardownAt && !c.endedByDriver) {
      failures.push(`${c.name}[${c.pid}] exited by itself (code ${c.exitCode}, signal ${c.exitSignal}): ${c.stderr.join(' ').slice(0, 400)}`);
    }
    const failedOutcomes = c.of('failed').filter((e) => e.at <= teardownAt);
    if (failedOutcomes.length > 0) {
      notes.push(`${c.name}[${c.pid}] outcome Failed ×${failedOutcomes.length}: ${failedOutcomes.slice(0, 3).map((e) => `${e.stream} ${e.id} (${(e.message ?? e.code ?? '').slice(0, 70)})`).join('; ')}`);
    }
    const errors = c.of('error');
    if (errors.length > 0) notes.push(`${c.name}[${c.pid}] errors: ${errors.slice(0, 3).map((e) => e.message).join(' / ')}`);
  }
  if (analysis.finishedUnconfirmed.length > 0) {
    notes.push(`finished, reply lost with the killed process (work-done logged, entry acknowledged in Redis): ${analysis.finishedUnconfirmed.join(', ')}`);
  }
  if (analysis.interrupted.length > 0) {
    notes.push(`interrupted ${analysis.interrupted.length} window(s); taken up by claim after an expiry: ${analysis.takenUpBy.claim}, handed out again (reconciler/sweep): ${analysis.takenUpBy.added}`);
  }
  if (analysis.staleStarts.length > 0) {
    notes.push(`work started again on ${analysis.staleStarts.length} entr${analysis.staleStarts.length === 1 ? 'y' : 'ies'} already finished by another consumer (e.g. ${analysis.staleStarts[0]!.id} on ${analysis.staleStarts[0]!.consumer})`);
  }
  const { windows, ...rest } = analysis;
  return {
    case: def.name,
    run,
    ok: failures.length === 0,
    failures,
    notes,
    settled,
    settleMs,
    durationMs: Date.now() - started,
    analysis: { ...rest, windows: windows.length },
    state: finalState,
    fault,
    ...(opts.keepLogs || failures.length > 0 || analysis.duplicate.ms > 0 ? { logs: Object.fromEntries(consumers.map((c) => [`${c.name}[${c.pid}]`, c.events])) } : {}),
    ...(error === undefined ? {} : { error }),
  };
};
