/**
 * Scenario 6: a balanced fleet.
 *
 * Convergence: one consumer (child process, `REPORT=counts`, `REBALANCE=true`) is handed N
 * streams; three more then start. Timed from the moment all three printed `ready` until the
 * membership registry (`<service>-members`, each consumer's own count written by its heartbeat)
 * shows every consumer within 10% of N/4 and N owned in all. Moves per stream = claims won and
 * streams handed out again, over N, from the children's counters.
 *
 * Mass failover: a holder is handed 100k streams, then three survivors start
 * (`CLAIM=1`, `TICKS=1`, default `rebalance`: they do not take streams from the live holder); the
 * holder gets SIGKILL. Timed from the kill until the holder's pending list is empty (every entry
 * XCLAIMed with its lock; the registry's clock is printed too), with the curve: when 1%, half, 90%
 * and 99% of the entries had left it. The baseline is the same failover to three hand-written
 * survivors (`bench/lib/bare-claimer.ts`: SET NX and XCLAIM per expiry, nothing else), run first on
 * the same server: when 90% had moved (their last ones wait for Redis's active expiry, which slows
 * down once live locks far outnumber the expired ones). Claims per stream = claims won / streams;
 * ticks late = the survivors' `tick` lines (a timer every hbInterval/2) that came more than 1.5
 * periods after the previous one. Also
 * printed: the expiries the survivors heard and the claims they lost (a stream claimed by more
 * than its designated survivor), and the CPU time each survivor and redis-server used from the
 * kill until all were owned (from /proc: a figure the machine's load does not inflate as much as
 * the times).
 */
import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { groupName, lbsKey } from '../../lib';
import { ChildConsumer } from '../../support/child';
import { track } from '../../support/processes';
import type { ConsumerConfig } from '../../support/protocol';
import { type RedisServer, processCpuMs } from '../../support/redis-server';
import { createGroup, sleep } from '../../support/service';
import { fillLbs } from '../lib/lbs';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, progress } from '../lib/stats';

const HB = 2000;

/** Each consumer's owned count in the registry (records seen within the TTL). */
const registry = async (redis: Redis, service: string): Promise<Map<string, number>> => {
  const flat = (await redis.hgetall(`${service}-members`)) as Record<string, string>;
  const [seconds, micros] = await redis.time();
  const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  const owned = new Map<string, number>();
  for (const [name, record] of Object.entries(flat)) {
    const parts = record.split(' ');
    if (now - Number(parts[4]) <= HB) owned.set(name, Number(parts[1]));
  }
  return owned;
};

/** Asks `done` every `everyMs` until it says yes: the ms it took, or Infinity after `capMs`. */
const pollMs = async (done: () => Promise<boolean>, capMs: number, everyMs: number): Promise<number> => {
  const t0 = Date.now();
  while (Date.now() - t0 < capMs) {
    if (await done()) return Date.now() - t0;
    await sleep(everyMs);
  }
  return Infinity;
};

const waitRegistry = (redis: Redis, service: string, done: (owned: Map<string, number>) => boolean, capMs: number): Promise<number> =>
  pollMs(async () => done(await registry(redis, service)), capMs, 100);

/**
 * Polls the group's pending summary until `consumer` has no entry pending (of `n`): ms, or
 * Infinity after `capMs`, and when the first 1%, half, 90% and 99% of them had left its list
 * (`onMark` is called as each is passed).
 */
const waitPending = async (redis: Redis, service: string, consumer: string, n: number, capMs: number, onMark: (mark: number) => void = () => undefined): Promise<{ ms: number; marks: readonly number[]; curve: string }> => {
  const marks = [0.01, 0.5, 0.9, 0.99];
  const at: number[] = [];
  const t0 = Date.now();
  const ms = await pollMs(
    async () => {
      const [, , , consumers] = (await redis.xpending(lbsKey(service), groupName(service))) as [number, string | null, string | null, [string, string][] | null];
      const left = Number((consumers ?? []).find(([c]) => c === consumer)?.[1] ?? 0);
      while (at.length < marks.length && n - left >= marks[at.length]! * n) {
        at.push(Date.now() - t0);
        onMark(marks[at.length - 1]!);
      }
      return left === 0;
    },
    capMs,
    50,
  );
  return { ms, marks: at, curve: marks.map((m, i) => `${m * 100}% ${at[i] === undefined ? '-' : fmt(at[i]!, 0)}`).join(', ') };
};

/**
 * The heartbeat's and the claims' figures of the consumers' `tick` lines since `since` (TICKS=1,
 * see TickDiag): the slowest extension and claim answered, the cause of every stream dropped, how
 * many claimed streams waited longer than the TTL for their first extension; and the first
 * consumer's slowest extension per tick (the timeline).
 */
const diagnose = (consumers: readonly ChildConsumer[], since: number): string => {
  const sum = { judged: 0, statusLost: 0, retaken: 0, strays: 0, hbFailed: 0, firstExtOverTtl: 0 };
  let hbMaxMs = 0;
  let claimMaxMs = 0;
  let firstExtMaxMs = 0;
  for (const c of consumers) {
    const ticks = c.of('tick').filter((e) => e.diag !== undefined);
    const last = ticks[ticks.length - 1]?.diag;
    const start = ticks.filter((e) => e.at < since).pop()?.diag;
    if (last === undefined) continue;
    for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += last[k] - (start?.[k] ?? 0);
    for (const t of ticks.filter((e) => e.at >= since)) {
      hbMaxMs = Math.max(hbMaxMs, t.diag!.hbMaxMs);
      claimMaxMs = Math.max(claimMaxMs, t.diag!.claimMaxMs);
      firstExtMaxMs = Math.max(firstExtMaxMs, t.diag!.firstExtMaxMs);
    }
  }
  const timeline = (consumers[0]?.of('tick') ?? []).filter((e) => e.at >= since).slice(0, 40).map((e) => e.diag?.hbMaxMs ?? '-');
  return `heartbeat answered in <= ${hbMaxMs} ms (${sum.hbFailed} abandoned or failed), claims in <= ${claimMaxMs} ms; dropped: ${sum.judged} by judge(), ${sum.statusLost} Lost; ${sum.strays} strays expired, ${sum.retaken} re-taken; first extension <= ${firstExtMaxMs} ms after the claim (${sum.firstExtOverTtl} later than the TTL); ${consumers[0]?.name} slowest extension per tick: ${timeline.join(' ')}`;
};

const spawn = (server: RedisServer, service: string, pod: string, extra: Partial<ConsumerConfig>): ChildConsumer =>
  new ChildConsumer({ redisUrl: server.url, service, pod, hbInterval: HB, lbsIdleTime: 60_000, readCount: 1000, report: 'counts', claim: true, ...extra }, { nodeFlags: ['--max-old-space-size=2048'] });

const convergence = async (server: RedisServer, n: number, batch: number): Promise<Row> => {
  const service = `bench-fleet-${n}`;
  const redis = server.connect();
  const fleet: ChildConsumer[] = [];
  try {
    await createGroup(redis, service);
    const first = spawn(server, service, 'a', { rebalance: 'true', rebalanceBatch: batch, target: n, ticks: true });
    fleet.push(first);
    await first.waitFor('ready', { timeoutMs: 30_000 });
    await fillLbs(redis, service, n);
    await first.waitFor('owned', { timeoutMs: 240_000 });
    const joining = ['b', 'c', 'd'].map((pod) => spawn(server, service, pod, { rebalance: 'true', rebalanceBatch: batch, ticks: true }));
    fleet.push(...joining);
    await Promise.all(joining.map((c) => c.waitFor('ready', { timeoutMs: 30_000 })));
    const joinedAt = Date.now();
    const ms = await waitRegistry(
      redis,
      service,
      (owned) => owned.size === 4 && [...owned.values()].reduce((a, b) => a + b, 0) === n && [...owned.values()].every((k) => Math.abs(k - n / 4) <= n / 40),
      120_000,
    );
    progress('fleet', `1->4 at ${n}: ${diagnose(fleet, joinedAt)}`);
    await sleep(2 * HB);
    const heaps = await Promise.all(fleet.map((c) => c.ask({ cmd: 'heap' })));
    const claimed = heaps.reduce((s, h) => s + h.claimed, 0);
    const added = heaps.reduce((s, h) => s + h.added, 0);
    const released = heaps.reduce((s, h) => s + h.released, 0);
    const disowned = heaps.reduce((s, h) => s + h.disowned, 0);
    const moves = claimed + added - n;
    const final = await registry(redis, service);
    progress('fleet', `1->4 at ${n}: balanced after ${fmt(ms, 0)} ms; ${[...final.values()].join('/')}; ${released} handed back, ${claimed} claimed, ${added - n} handed out again, ${disowned} disowned`);
    return {
      id: `fleet-converge-${n}`,
      scenario: `6 scale-up 1->4 consumers, ${n.toLocaleString('en')} streams: balanced within 10% (ms after the joins), moves per stream`,
      ours: `${fmt(ms, 0)} ms, ${(moves / n).toFixed(3)} moves/stream`,
      baseline: `ideal 0.750 moves/stream`,
      ratio: '-',
      target: '-',
      pass: null,
      values: { ms, n, rebalanceBatch: batch, claimed, added, released, disowned, moves, final: Object.fromEntries(final) },
    };
  } finally {
    await Promise.all(fleet.map((c) => c.kill()));
    redis.disconnect();
  }
};

/**
 * Redis's time per command since the last CONFIG RESETSTAT (INFO commandstats, the 10 costliest):
 * wall time by Redis's clock, and the commands a script runs count in it besides the script's own
 * EVALSHA.
 */
const commandTimes = async (redis: ReturnType<RedisServer['connect']>): Promise<Record<string, { calls: number; ms: number }>> => {
  const info = await redis.info('commandstats');
  const rows = [...info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)].map(([, command, calls, usec]) => ({ command: command!, calls: Number(calls), ms: Number(usec) / 1000 }));
  rows.sort((a, b) => b.ms - a.ms);
  return Object.fromEntries(rows.slice(0, 10).map(({ command, calls, ms }) => [command, { calls, ms: Math.round(ms) }]));
};

/** CPU ms each process used since this call (`read`: their totals now, in one order). */
const cpuSince = (read: () => number[]): (() => number[]) => {
  const at0 = read();
  return () => read().map((c, i) => Math.round(c - at0[i]!));
};

/** `cpu` and `cpu90` (survivors, then redis-server) as the progress lines print them. */
const cpuText = (cpu: readonly number[], cpu90: readonly number[]): string =>
  `CPU ms survivors ${cpu.slice(0, 3).join('/')}, redis ${cpu[3]} (until 90% had moved: ${cpu90.slice(0, 3).join('/')}, redis ${cpu90[3]})`;

/** A consumer that owns `n` new streams of `service` (its group created first); pushed to `into` at once, for the caller to kill. */
const loadedHolder = async (server: RedisServer, redis: Redis, service: string, n: number, into: ChildConsumer[]): Promise<ChildConsumer> => {
  await createGroup(redis, service);
  const holder = spawn(server, service, 'holder', { target: n });
  into.push(holder);
  await holder.waitFor('ready', { timeoutMs: 30_000 });
  await fillLbs(redis, service, n);
  await holder.waitFor('owned', { timeoutMs: 240_000 });
  return holder;
};

const massFailover = async (server: RedisServer, n: number, floor: Floor): Promise<Row> => {
  const service = 'bench-fleet-failover';
  const redis = server.connect();
  const fleet: ChildConsumer[] = [];
  try {
    const holder = await loadedHolder(server, redis, service, n, fleet);
    const survivors = ['s1', 's2', 's3'].map((pod) => spawn(server, service, pod, { ticks: true }));
    fleet.push(...survivors);
    await Promise.all(survivors.map((c) => c.waitFor('ready', { timeoutMs: 30_000 })));
    await sleep(3 * HB);
    const killedAt = Date.now();
    const cpuUsed = cpuSince(() => [...survivors.map((c) => processCpuMs(c.pid) ?? NaN), server.cpuMs() ?? NaN]);
    await redis.config('RESETSTAT');
    await holder.kill();
    // Two clocks: the killed holder's pending list empty (every entry XCLAIMed with its lock, by Redis's
    // own record, polled every 50 ms), and the registry (each survivor's owned count, written at its
    // heartbeat ticks: up to one period late).
    let cpu90: number[] = [];
    const [{ ms, curve }, registryMs] = await Promise.all([
      waitPending(redis, service, holder.name, n, 60_000, (mark) => mark === 0.9 && (cpu90 = cpuUsed())),
      waitRegistry(redis, service, (owned) => [...owned.values()].reduce((a, b) => a + b, 0) === n && !owned.has(holder.name), 60_000),
    ]);
    // CPU used from the kill until all were owned: survivors (each), then redis-server. Load-independent, unlike the times.
    const cpu = cpuUsed();
    const commands = await commandTimes(redis);
    await sleep(HB);
    const heaps = await Promise.all(survivors.map((c) => c.ask({ cmd: 'heap' })));
    const claimed = heaps.reduce((s, h) => s + h.claimed, 0);
    const recovered = heaps.reduce((s, h) => s + h.added, 0);
    const disowned = heaps.reduce((s, h) => s + h.disowned, 0);
    const expired = heaps.reduce((s, h) => s + h.expired, 0);
    const lost = heaps.reduce((s, h) => s + h.claimsLost, 0);
    const period = HB / 2;
    let late = 0;
    let worstGap = 0;
    for (const s of survivors) {
      const ticks = s.of('tick').filter((e) => e.at >= killedAt - period);
      for (let i = 1; i < ticks.length; i++) {
        const gap = ticks[i]!.at - ticks[i - 1]!.at;
        worstGap = Math.max(worstGap, gap);
        if (gap > 1.5 * period) late++;
      }
    }
    const shares = heaps.map((h) => h.claimed + h.added);
    progress('fleet', `failover of ${n}: ${diagnose(survivors, killedAt)}`);
    progress('fleet', `failover of ${n}: Redis time by command, kill to all owned (INFO commandstats; a script's commands count in it too): ${Object.entries(commands).map(([c, { calls, ms }]) => `${c} ${calls} calls ${fmt(ms, 0)} ms`).join(', ')}`);
    progress('fleet', `failover of ${n}: all owned ${fmt(ms, 0)} ms after the kill (its pending list empty; ${fmt(registryMs, 0)} ms by the registry; moved out of its list after: ${curve}); shares ${shares.join('/')}; ${claimed} claimed, ${recovered} recovered, ${disowned} disowned; ${expired} expiries heard, ${lost} claims lost; ${late} ticks late (worst gap ${worstGap} ms); ${cpuText(cpu, cpu90)}`);
    return {
      id: 'fleet-mass-failover',
      scenario: `6 mass failover: ${n.toLocaleString('en')} streams of a killed consumer to 3 survivors (ms after the kill; claims per stream; ticks late)`,
      ours: `${fmt(ms, 0)} ms; ${((claimed + recovered) / n).toFixed(3)} takes/stream; ${late} late (shares ${shares.join('/')})`,
      baseline: `hand-written survivors: 90% moved in ${fmt(floor.ms90, 0)} ms`,
      ratio: '-',
      target: `<= ${HB + 2000} ms, 1 take/stream, 0 late`,
      pass: ms <= HB + 2000 && claimed + recovered === n && disowned === 0 && late === 0,
      values: { ms, registryMs, curve, floor, n, claimed, recovered, disowned, expired, claimsLost: lost, late, worstGapMs: worstGap, shares, cpuMs: { survivors: cpu.slice(0, 3), redis: cpu[3] }, cpuMsTo90: { survivors: cpu90.slice(0, 3), redis: cpu90[3] }, redisCommands: commands },
    };
  } finally {
    await Promise.all(fleet.map((c) => c.kill()));
    redis.disconnect();
  }
};

/** The mass failover with hand-written survivors: ms until all and until 90% had left the killed holder's list, the curve, CPU ms (survivors, then redis-server). */
interface Floor {
  readonly ms: number;
  readonly ms90: number;
  readonly curve: string;
  readonly cpu: readonly number[];
  readonly cpu90: readonly number[];
}

/**
 * The mass failover with hand-written survivors instead (`bench/lib/bare-claimer.ts`: SET NX and
 * XCLAIM per expiry, a static split, nothing else): what this machine allows at least. Ms after
 * the kill until the holder's pending list is empty, and the CPU used meanwhile.
 */
const bareFailover = async (server: RedisServer, n: number): Promise<Floor> => {
  const service = 'bench-fleet-bare';
  const redis = server.connect();
  const holders: ChildConsumer[] = [];
  const names = ['b1', 'b2', 'b3'];
  const bare: ChildProcess[] = [];
  try {
    const holder = await loadedHolder(server, redis, service, n, holders);
    const env = { ...process.env, REDIS_URL: server.url, LBS: lbsKey(service), GROUP: groupName(service), PEERS: names.join(','), TTL_MS: String(HB) };
    for (const me of names) bare.push(track(fork(join(__dirname, '../lib/bare-claimer.ts'), [], { env: { ...env, ME: me }, execArgv: ['--require', 'tsx/cjs'] })));
    await Promise.all(bare.map((c) => new Promise((resolve) => c.once('message', resolve))));
    await sleep(HB);
    const cpuUsed = cpuSince(() => [...bare.map((c) => processCpuMs(c.pid!) ?? NaN), server.cpuMs() ?? NaN]);
    await holder.kill();
    // The last locks wait for Redis's active expiry, which slows down once live locks outnumber the
    // expired ones ten to one (nothing sweeps here): 20 s at most.
    let cpu90: number[] = [];
    const { ms, marks, curve } = await waitPending(redis, service, holder.name, n, 20_000, (mark) => mark === 0.9 && (cpu90 = cpuUsed()));
    const cpu = cpuUsed();
    progress('fleet', `failover of ${n} to hand-written survivors: all owned ${fmt(ms, 0)} ms after the kill (moved out of its list after: ${curve}); ${cpuText(cpu, cpu90)}`);
    return { ms, ms90: marks[2] ?? Infinity, curve, cpu, cpu90 };
  } finally {
    for (const c of bare) c.kill('SIGKILL');
    await Promise.all(holders.map((c) => c.kill()));
    redis.disconnect();
  }
};

/** The mass-failover row alone (`--only=fleet-failover`). */
export const fleetFailoverScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const admin = server.connect();
  try {
    const floor = await bareFailover(server, config.fleetStreams);
    await admin.flushall();
    return [await massFailover(server, config.fleetStreams, floor)];
  } finally {
    admin.disconnect();
  }
};

/** The same rows in a quick and a full run: the targets are about 100k streams (`--fleet-streams`). */
export const fleetScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const admin = server.connect();
  try {
    const rows: Row[] = [];
    const floor = await bareFailover(server, config.fleetStreams);
    await admin.flushall();
    rows.push(await massFailover(server, config.fleetStreams, floor));
    await admin.flushall();
    rows.push(await convergence(server, 1000, 500));
    await admin.flushall();
    rows.push(await convergence(server, config.fleetStreams, Math.max(500, Math.round(config.fleetStreams / 20))));
    return rows;
  } finally {
    admin.disconnect();
  }
};
