/**
 * Scenarios 1b and 5: one real `RedisStreamClient` (a child process run with --expose-gc, default
 * options except `readCount` 1000) is handed 100k streams through its LBS. Then:
 *  - memory: heapUsed after GC with 100k owned, minus heapUsed after GC with the client running
 *    and owning nothing, divided by the streams it owns (StreamAdded minus StreamDisowned);
 *  - CPU: process.cpuUsage of that process over a window in which it only keeps its 100k locks
 *    alive (heartbeat every hbInterval/2 = 1 s, default hbInterval 2000), as a fraction of one
 *    core. Everything the idle client does in that window counts (heartbeat, the reader's empty
 *    blocking reads, any periodic sweep), so the figure is an upper bound of the heartbeat's share.
 *    redis-server's CPU and the heartbeat's ticks (support/heartbeat-probe.ts) over the same
 *    window are reported too;
 *  - (information) a survivor takes over all 100k: a second client (in this process, `claimExpired`)
 *    runs while the holder gets SIGKILL; timed from the holder's deadline (read from
 *    `<service>-deadlines` right after the kill) to the last `StreamExpired` it hears, and to the
 *    last stream it owns again (claimed, or taken by its reconciler).
 */
import Redis from 'ioredis';
import { Subscription, tap } from 'rxjs';
import { RedisStreamClient, claimExpired } from '../../lib';
import { ChildConsumer } from '../../support/child';
import type { RedisServer } from '../../support/redis-server';
import { createGroup, sleep } from '../../support/service';
import { fillLbs } from '../lib/lbs';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, median, progress, waitFor } from '../lib/stats';

const STREAMS = 100_000;

export const cpuMemoryScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const service = 'bench-mem';
  const redis = server.connect();
  const windowMs = config.quick ? 5000 : 10_000;
  await createGroup(redis, service);
  const holder = new ChildConsumer(
    { redisUrl: server.url, service, pod: 'bench-holder', readCount: 1000, report: 'counts', target: STREAMS },
    { nodeFlags: ['--expose-gc'] },
  );
  holder.onEvent((e) => {
    if (e.event === 'progress') progress('cpu-memory', `  the client owns ${e.count} streams`);
    if (e.event === 'disowned') progress('cpu-memory', `  the client reported StreamDisowned (${e.count} so far)`);
    if (e.event === 'error') progress('cpu-memory', `  the client failed: ${String(e.code)} ${e.message}`);
  });
  try {
    await holder.waitFor('ready', { timeoutMs: 30_000 });
    await sleep(1000); // start-up: keyspace flags, group, reader connection, first (empty) recovery sweep
    const before = await holder.ask({ cmd: 'heap' }, 30_000);
    if (!before.gc) throw new Error('the holder runs without --expose-gc');
    progress('cpu-memory', `client running with 0 streams: heapUsed ${fmt(Number(before.heapUsed) / 2 ** 20, 1)} MiB; adding ${STREAMS} LBS entries`);
    const t0 = Date.now();
    await fillLbs(redis, service, STREAMS);
    const handOutCapMs = config.quick ? 15_000 : 60_000;
    const reached = await waitFor(() => !holder.alive || holder.of('owned').length > 0, handOutCapMs, 50);
    const handOutSeconds = reached ? (holder.of('owned')[0]!.at - t0) / 1000 : NaN;
    if (reached) progress('cpu-memory', `the client owns ${STREAMS} streams after ${handOutSeconds.toFixed(1)} s (XADD and hand-out overlapping)`);
    else progress('cpu-memory', `the client did not get to ${STREAMS} streams within ${handOutCapMs / 1000} s; measuring at what it owns`);
    await sleep(2500); // a couple of heartbeat ticks over all the locks
    const after = await holder.ask({ cmd: 'heap' }, 120_000);
    const owned = Number(after.owned);
    const perStream = (Number(after.heapUsed) - Number(before.heapUsed)) / owned;
    progress(
      'cpu-memory',
      `heapUsed ${fmt(Number(after.heapUsed) / 2 ** 20, 1)} MiB with ${owned} owned (${after.added} StreamAdded, ${after.disowned} StreamDisowned): ${fmt(perStream, 0)} B per stream`,
    );

    const redisCpu0 = server.cpuMs();
    const cpu = await holder.ask({ cmd: 'cpu', ms: windowMs }, windowMs + 120_000);
    const redisCpu1 = server.cpuMs();
    const fraction = Number(cpu.cpuMs) / Number(cpu.wallMs);
    const redisFraction = redisCpu0 !== undefined && redisCpu1 !== undefined ? (redisCpu1 - redisCpu0) / Number(cpu.wallMs) : NaN;
    const lost = Number(cpu.disowned);
    const ticks = cpu.heartbeatTicksMs;
    progress(
      'cpu-memory',
      `client CPU ${fmt(fraction * 100, 1)}% of one core over ${fmt(Number(cpu.wallMs) / 1000, 1)} s (max event-loop delay ${fmt(Number(cpu.maxLoopDelayMs), 0)} ms); redis-server ${fmt(redisFraction * 100, 1)}%; disowned ${lost}; heartbeat ticks ${ticks.map((t) => fmt(t, 0)).join(', ')} ms`,
    );
    const takeover = await takeOver(server, service, holder, owned, config.quick ? 30_000 : 60_000);
    return [
      {
        id: 'heartbeat-cpu-100k',
        scenario: '1 client CPU keeping 100k streams (% of one core)',
        ours: `${fmt(fraction * 100, 1)}%${owned < STREAMS ? ` (at ${fmt(owned / 1000, 1)}k owned)` : ''}${lost > 0 ? `, ${fmt(lost / 1000, 1)}k disowned` : ''}`,
        baseline: '-',
        ratio: '-',
        target: '< 20%',
        pass: fraction < 0.2 && lost === 0 && owned >= STREAMS,
        values: {
          clientCoreFraction: fraction,
          redisCoreFraction: redisFraction,
          windowMs: Number(cpu.wallMs),
          cpuMs: cpu.cpuMs,
          maxEventLoopDelayMs: cpu.maxLoopDelayMs,
          p99EventLoopDelayMs: cpu.p99LoopDelayMs,
          disowned: lost,
          handOutSeconds,
          owned,
          readCount: 1000,
        },
      },
      {
        id: 'heartbeat-100k-tick',
        scenario: '1 heartbeat tick, 100k locks (ms)',
        ours: ticks.length > 0 ? `${fmt(median(ticks), 0)} ms` : 'no tick completed',
        baseline: '-',
        ratio: '-',
        target: '-',
        pass: null,
        values: { medianMs: median(ticks), ticksMs: ticks, owned },
      },
      {
        id: 'heartbeat-redis-cpu-100k',
        scenario: '1 redis-server CPU meanwhile (% of one core)',
        ours: `${fmt(redisFraction * 100, 1)}%`,
        baseline: '-',
        ratio: '-',
        target: '-',
        pass: null,
        values: { redisCoreFraction: redisFraction },
      },
      {
        id: 'memory-100k',
        scenario: '5 client heap per owned stream, 100k streams',
        ours: `${fmt(perStream, 0)} B${owned < STREAMS ? ` (at ${fmt(owned / 1000, 1)}k owned)` : ''}`,
        baseline: '-',
        ratio: '-',
        target: '<= 1024 B',
        pass: perStream <= 1024 && owned >= STREAMS,
        values: {
          bytesPerStream: perStream,
          heapUsedBefore: before.heapUsed,
          heapUsedAfter: after.heapUsed,
          rssAfter: after.rss,
          target: STREAMS,
          owned,
          streamAdded: after.added,
          streamDisowned: after.disowned,
        },
      },
      {
        id: 'takeover-100k',
        scenario: '3 a consumer holding 100k streams killed: all owned again by a survivor (ms after its deadline)',
        ours: Number.isFinite(takeover.allOwnedMs) ? `${fmt(takeover.allOwnedMs, 0)} ms (last expiry heard at ${fmt(takeover.lastExpiredMs, 0)} ms)` : `${takeover.ownedAgain} of ${owned} within the cap`,
        baseline: '-',
        ratio: '-',
        target: '-',
        pass: null,
        values: takeover,
      },
    ];
  } finally {
    await holder.stop();
    redis.disconnect();
  }
};

/** SIGKILL of the holder while a survivor claims every expired stream; times relative to the holder's deadline. */
const takeOver = async (server: RedisServer, service: string, holder: ChildConsumer, owned: number, capMs: number) => {
  const conn: Redis = server.connect();
  const survivor = new RedisStreamClient(conn, service, { consumerId: 'bench-survivor', readCount: 1000 });
  let expired = 0;
  let lastExpiredAt = 0;
  let ownedAgain = 0;
  let lastOwnedAt = 0;
  const subscription: Subscription = survivor
    .init()
    .pipe(
      tap((n) => {
        if (n.type !== 'StreamExpired') return;
        expired++;
        lastExpiredAt = Date.now();
      }),
      claimExpired(survivor),
    )
    .subscribe((n) => {
      if (n.type !== 'StreamClaimed' && n.type !== 'StreamAdded') return;
      ownedAgain++;
      lastOwnedAt = Date.now();
    });
  try {
    await sleep(1000);
    const cpu0 = process.cpuUsage();
    const redisCpu0 = server.cpuMs() ?? NaN;
    const killedAt = Date.now();
    await holder.kill();
    const [seconds, micros] = await conn.time();
    const score = await conn.zscore(`${service}-deadlines`, 'redis-consumer-bench-holder');
    const deadline = Date.now() + (Number(score) - (Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)));
    await waitFor(() => ownedAgain >= owned, capMs + Math.max(0, deadline - Date.now()), 50);
    const wallMs = Date.now() - killedAt;
    const cpu = process.cpuUsage(cpu0);
    const takeover = {
      survivorCoreFraction: (cpu.user + cpu.system) / 1000 / wallMs,
      redisCoreFraction: ((server.cpuMs() ?? NaN) - redisCpu0) / wallMs,
      streams: owned,
      ownedAgain,
      expiredHeard: expired,
      lastExpiredMs: lastExpiredAt - deadline,
      allOwnedMs: ownedAgain >= owned ? lastOwnedAt - deadline : Infinity,
      capMs,
    };
    progress(
      'cpu-memory',
      `holder killed: survivor heard ${expired} expiries (last ${fmt(takeover.lastExpiredMs, 0)} ms after the holder's deadline) and owns ${ownedAgain} of ${owned} again` +
        (Number.isFinite(takeover.allOwnedMs) ? ` (the last ${fmt(takeover.allOwnedMs, 0)} ms after the deadline)` : ` after the cap of ${capMs / 1000} s`) +
        `; meanwhile survivor ${fmt(takeover.survivorCoreFraction * 100, 0)}%, redis-server ${fmt(takeover.redisCoreFraction * 100, 0)}% of a core`,
    );
    return takeover;
  } finally {
    subscription.unsubscribe();
    conn.disconnect();
  }
};
