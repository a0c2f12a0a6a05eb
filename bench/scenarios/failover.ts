/**
 * Scenario 3: failover after SIGKILL, with 10, 10k and 100k other live locks in the same db.
 *
 * A survivor consumer (child process, default options: hbInterval 2000, lbsIdleTime 40000) runs
 * throughout. For each kill, a victim consumer (child process, same options) is started and
 * handed K streams (LBS entries are added one at a time until the victim got K; the survivor gets
 * the others), holds them for 1.5-2.5 s (so that the kill falls at a random point of the victim's
 * heartbeat and XCLAIM's min-idle of one hbInterval has passed by the time the lock lapses), then
 * gets SIGKILL. The sample is kill -> the survivor owns the stream again (its own Date.now(), same
 * clock), per stream: a `claimed` line (StreamExpired then claim()), or a `StreamAdded` line when
 * the survivor's recovery or reconciler took the lockless entry first. A stream not claimed within the cap counts as a timeout (∞); its lock is then
 * touched (EXISTS) so that it expires and the next kill starts clean.
 *
 * The other live locks are plain volatile keys named like locks of another service
 * (`bench-load:...<MUTEX_KEY_SEP>...`), SET PX 2000 and extended every second by a batch script
 * on a connection of the benchmark, exactly the load that as many streams held by live consumers
 * put on Redis's expiry cycle. Nothing here depends on how the library detects the expiry
 * (keyspace events, a reaper, a reconciler): only the survivor's lines are timed.
 */
import type Redis from 'ioredis';
import { MUTEX_KEY_SEP, lbsKey, LBS_FIELD, lockKey } from '../../lib';
import { ChildConsumer } from '../../support/child';
import type { RedisServer } from '../../support/redis-server';
import { createGroup, sleep } from '../../support/service';
import { callScript, lbsJson } from '../lib/lbs';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, median, percentile, progress, waitFor, waitOrThrow } from '../lib/stats';

const TTL = 2000;
const STREAMS_PER_VICTIM = 5;
const EXTEND_ALL = `for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[1]) end return #KEYS`;

/** Keeps `keys` alive (PEXPIRE ttl every second, 1000 keys per script call) until stopped. */
class LoadLocks {
  readonly keys: string[] = [];
  maxLoopMs = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly redis: Redis) {
    redis.defineCommand('benchExtendAll', { lua: EXTEND_ALL });
    this.loop = this.run();
  }

  async grow(total: number): Promise<void> {
    for (let start = this.keys.length; start < total; start += 1000) {
      const pipeline = this.redis.pipeline();
      for (let i = start; i < Math.min(total, start + 1000); i++) {
        const key = `bench-load:stream-${i}${MUTEX_KEY_SEP}1700000000000-${i}`;
        this.keys.push(key);
        pipeline.set(key, 'redis-consumer-bench-load', 'PX', 10_000);
      }
      await pipeline.exec();
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      const t0 = Date.now();
      const keys = [...this.keys];
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000);
        calls.push(callScript(this.redis, 'benchExtendAll', chunk.length, ...chunk, TTL));
      }
      await Promise.all(calls).catch(() => undefined);
      this.maxLoopMs = Math.max(this.maxLoopMs, Date.now() - t0);
      await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** How many of the keys exist (a sample of up to 1000). */
  async aliveSample(): Promise<[number, number]> {
    const sample = this.keys.filter((_, i) => i % Math.max(1, Math.floor(this.keys.length / 1000)) === 0).slice(0, 1000);
    if (sample.length === 0) return [0, 0];
    return [await this.redis.exists(...sample), sample.length];
  }
}

interface Sample {
  readonly level: number;
  readonly kill: number;
  readonly stream: string;
  /** kill -> claimed, ms (Infinity: not claimed within the cap). */
  readonly claimMs: number;
  /** kill -> the survivor's StreamExpired, ms (Infinity: none within the cap). */
  readonly expiredMs: number;
  /** kill -> the lock's deadline (its PTTL right after the kill), ms. */
  readonly ttlLeftMs: number;
  /** The survivor got it as StreamAdded (taken by its recovery/reconciler) rather than by claim(). */
  readonly viaStreamAdded: boolean;
}

export const failoverScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const service = 'bench-fo';
  const levels = config.quick ? [10, 10_000] : [10, 10_000, 100_000];
  const kills = config.quick ? 3 : 8;
  const redis = server.connect();
  const loadConn = server.connect();
  await createGroup(redis, service);
  const load = new LoadLocks(loadConn);
  const survivor = new ChildConsumer({ redisUrl: server.url, service, pod: 'bench-survivor', claim: true });
  /** stream name -> who got it from the LBS, and its LBS id. */
  const handedTo = new Map<string, { who: string; id: string }>();
  survivor.onEvent((e) => {
    if (e.event === 'added') handedTo.set(e.stream, { who: 'survivor', id: e.id });
    if (process.env.BENCH_DEBUG) progress('failover', `  survivor: ${JSON.stringify(e)}`);
    if (e.event === 'error' || e.event === 'disowned') progress('failover', `  survivor: ${e.event} ${JSON.stringify(e)}`);
  });
  const samples: Sample[] = [];
  let entryCounter = 0;
  try {
    await survivor.waitFor('ready', { timeoutMs: 30_000 });
    await sleep(500);
    for (const level of levels) {
      await load.grow(level);
      await sleep(2000);
      progress('failover', `${level} other live locks in the db; ${kills} kills of a consumer holding ${STREAMS_PER_VICTIM} streams (cap ${config.failoverCapMs} ms)`);
      for (let k = 1; k <= kills; k++) {
        const victim = new ChildConsumer({ redisUrl: server.url, service, pod: `bench-victim-${level}-${k}`, claim: true });
        victim.onEvent((e) => {
          if (e.event === 'added') handedTo.set(e.stream, { who: 'victim', id: e.id });
        });
        try {
          await victim.waitFor('ready', { timeoutMs: 30_000 });
          const mine: { stream: string; id: string }[] = [];
          for (let attempts = 0; mine.length < STREAMS_PER_VICTIM; attempts++) {
            if (attempts > 20 * STREAMS_PER_VICTIM) throw new Error('could not hand streams to the victim');
            const stream = `${service}:L${level}-k${k}-${++entryCounter}`;
            await redis.xadd(lbsKey(service), '*', LBS_FIELD, lbsJson(stream, { k }));
            await waitOrThrow(() => handedTo.has(stream), 10_000, `${stream} handed out`);
            const to = handedTo.get(stream)!;
            if (to.who === 'victim') mine.push({ stream, id: to.id });
          }
          await sleep(1500 + Math.random() * 1000);
          const killAt = Date.now();
          await victim.kill();
          const locks = mine.map((m) => lockKey(m.stream, m.id));
          const pttl = (await Promise.all(locks.map((l) => redis.pttl(l)))).map((ms) => (ms >= 0 ? ms : 0));
          const pttlAt = Date.now();
          // Owned again by the survivor: a won claim after StreamExpired, or StreamAdded when its
          // periodic recovery/reconciliation took the lockless entry first (both are a failover).
          const claimedAt = (stream: string) =>
            survivor.events.find((e) => (e.event === 'claimed' || (e.event === 'added' && e.at >= killAt)) && e.stream === stream)?.at;
          const viaAdded = (stream: string) => survivor.events.find((e) => (e.event === 'claimed' || (e.event === 'added' && e.at >= killAt)) && e.stream === stream)?.event === 'added';
          const expiredAt = (stream: string) => survivor.events.find((e) => e.event === 'expired' && e.stream === stream)?.at;
          await waitFor(() => mine.every((m) => claimedAt(m.stream) !== undefined), config.failoverCapMs - (Date.now() - killAt), 5);
          mine.forEach((m, i) => {
            const claimed = claimedAt(m.stream);
            const expired = expiredAt(m.stream);
            samples.push({
              level,
              kill: k,
              stream: m.stream,
              claimMs: claimed === undefined ? Infinity : claimed - killAt,
              expiredMs: expired === undefined ? Infinity : expired - killAt,
              ttlLeftMs: pttlAt - killAt + pttl[i]!,
              viaStreamAdded: viaAdded(m.stream),
            });
          });
          const ofKill = samples.filter((s) => s.level === level && s.kill === k);
          const timeouts = ofKill.filter((s) => !Number.isFinite(s.claimMs)).length;
          progress(
            'failover',
            `  ${level} locks, kill ${k}/${kills}: kill->claimed ${ofKill.map((s) => fmt(s.claimMs, 0)).join(', ')} ms; lock deadline after ${ofKill.map((s) => fmt(s.ttlLeftMs, 0)).join(', ')} ms${timeouts > 0 ? `; ${timeouts} not claimed within ${config.failoverCapMs} ms` : ''}`,
          );
          if (timeouts > 0) {
            // Touch the overdue locks: Redis deletes them and publishes `expired`; the survivor claims them.
            await redis.exists(...locks);
            await waitFor(() => mine.every((m) => claimedAt(m.stream) !== undefined), 5000);
          }
        } finally {
          await victim.kill();
        }
      }
      const [alive, sampled] = await load.aliveSample();
      if (alive !== sampled) progress('failover', `WARNING: only ${alive} of ${sampled} sampled load keys are alive (the refresher fell behind)`);
    }
  } finally {
    await survivor.stop();
    await load.stop();
    redis.disconnect();
    loadConn.disconnect();
  }

  const label = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
  return levels.map((level): Row => {
    const of = samples.filter((s) => s.level === level);
    const claim = of.map((s) => s.claimMs);
    const p50 = percentile(claim, 50);
    const p99 = percentile(claim, 99);
    const timeouts = claim.filter((c) => !Number.isFinite(c)).length;
    const late = of.map((s) => s.claimMs - s.ttlLeftMs);
    const shown = (ms: number) => (Number.isFinite(ms) ? `${fmt(ms, 0)}` : `>${config.failoverCapMs}`);
    return {
      id: `failover-${label(level)}`,
      scenario: `3 failover kill->claimed, ${label(level)} other locks (ms)`,
      ours: `p50 ${shown(p50)} / p99 ${shown(p99)}${timeouts > 0 ? ` (${timeouts}/${of.length} timed out)` : ''}`,
      baseline: `TTL ${TTL} (floor)`,
      ratio: Number.isFinite(p99) ? `${fmt(p99 / TTL, 2)}x TTL` : '-',
      target: `p99 <= ${TTL + 250}`,
      pass: p99 <= TTL + 250,
      values: {
        otherLocks: level,
        kills,
        streamsPerKill: STREAMS_PER_VICTIM,
        samples: of.length,
        p50Ms: p50,
        p99Ms: p99,
        maxMs: Math.max(...claim),
        timeouts,
        capMs: config.failoverCapMs,
        pastDeadlineP50Ms: percentile(late, 50),
        pastDeadlineP99Ms: percentile(late, 99),
        expiredEventP50Ms: percentile(of.map((s) => s.expiredMs), 50),
        takenAsStreamAdded: of.filter((s) => s.viaStreamAdded).length,
        medianTtlLeftAtKillMs: median(of.map((s) => s.ttlLeftMs)),
        loadRefreshMaxLoopMs: load.maxLoopMs,
        claimSamplesMs: claim.map((c) => (Number.isFinite(c) ? c : null)),
      },
    };
  });
};
