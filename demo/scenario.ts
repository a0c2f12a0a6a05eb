/**
 * The demo's script: start the consumers, add the streams, SIGKILL the busiest consumer and time
 * its failover, SIGSTOP another one for three heartbeats and watch it be told it was disowned,
 * then let the work finish. Every step is announced in the DemoState (the views show it), and
 * what was measured is written to the report as it happens, so that an interrupted run still
 * has a partial report.
 */
import type Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { addStream, groupName, lbsKey } from '../lib';
import type { DemoFlags } from './flags';
import type { Fleet } from './fleet';
import type { ConsumerRow, DemoState } from './state';
import { sleep, waitUntil } from './wait';

export interface ScenarioContext {
  readonly state: DemoState;
  readonly fleet: Fleet;
  readonly admin: Redis;
  readonly flags: DemoFlags;
  readonly signal: AbortSignal;
}

export interface KillReport {
  readonly pod: string;
  /** Streams the killed consumer owned (and had not finished) when it died. */
  readonly streams: readonly string[];
  /** Kill to the last of its streams claimed by a survivor, ms; undefined if that never happened. */
  readonly failoverMs: number | undefined;
}

export interface StallReport {
  readonly pod: string;
  readonly pausedMs: number;
  /** Its streams that other consumers claimed while it was stopped. */
  readonly takenOver: readonly string[];
  /** Of those, the ones it was told about after SIGCONT (StreamDisowned, or doneStream refused). */
  readonly told: readonly string[];
}

export interface ScenarioReport {
  kill?: KillReport;
  stall?: StallReport;
  /** Every stream added was reported done before the deadline. */
  finished: boolean;
}

/** Runs the whole script, filling `report` as it goes. */
export async function runScenario(ctx: ScenarioContext, report: ScenarioReport): Promise<void> {
  await startFleet(ctx);
  await produce(ctx);
  await waitForSpread(ctx);
  report.kill = await killBusiest(ctx);
  report.stall = await stallAnother(ctx, report.kill.pod);
  report.finished = await finishWork(ctx);
}

const hb = (ctx: ScenarioContext): number => ctx.flags.heartbeatMs;
const running = (ctx: ScenarioContext): ConsumerRow[] => ctx.state.rows.filter((r) => r.state === 'running');
const busiest = (rows: readonly ConsumerRow[]): ConsumerRow | undefined => [...rows].sort((a, b) => b.owned.size - a.owned.size)[0];
const list = (ctx: ScenarioContext, streams: Iterable<string>): string => [...streams].map((s) => ctx.state.short(s)).join(', ');

/** True once the service's consumer group exists (XINFO GROUPS): entries added from then on are never skipped. */
const groupExists = async (ctx: ScenarioContext): Promise<boolean> => {
  const groups = (await ctx.admin.xinfo('GROUPS', lbsKey(ctx.state.service)).catch(() => [])) as unknown[][];
  return groups.some((fields) => fields.includes(groupName(ctx.state.service)));
};

/** Time for each consumer's reader to block in XREADGROUP once its client has started, so they take turns. */
const SETTLE_MS = 500;

async function startFleet(ctx: ScenarioContext): Promise<void> {
  const n = ctx.state.rows.length;
  ctx.state.enterPhase(`starting ${n} consumer processes (hbInterval ${hb(ctx)} ms)`);
  ctx.fleet.start();
  const failed = (): boolean => ctx.state.rows.some((r) => r.state === 'exited');
  const allReady = (): boolean => ctx.state.rows.every((r) => r.state === 'running');
  const ready = await waitUntil(async () => failed() || (allReady() && (await groupExists(ctx))), 20_000, ctx.signal);
  if (failed() || !ready) throw new Error('the consumers did not all start within 20 s (see the log above)');
  await sleep(SETTLE_MS, ctx.signal);
  ctx.state.note('»', `all ${n} consumers started; group ${groupName(ctx.state.service)} ready`, 'dim');
}

/** The producer: adds the streams a little apart, so that the blocked consumers take turns. */
async function produce(ctx: ScenarioContext): Promise<void> {
  const { streams } = ctx.flags;
  const gapMs = Math.min(150, Math.max(10, Math.round(2000 / streams)));
  ctx.state.enterPhase(`producer: addStream × ${streams}, one every ${gapMs} ms`);
  for (let i = 1; i <= streams; i++) {
    const name = ctx.state.streamName(i);
    const info = { order: i, customer: `customer-${(i * 7) % 10}`, addedAt: new Date().toISOString() };
    await lastValueFrom(addStream(ctx.admin, ctx.state.service, { dataStreamName: name, info }));
    ctx.state.produced.push(name);
    await sleep(gapMs, ctx.signal);
  }
}

async function waitForSpread(ctx: ScenarioContext): Promise<void> {
  const { state } = ctx;
  const spread = await waitUntil(() => state.handedOut.size === state.produced.length, 10_000 + hb(ctx), ctx.signal);
  const shares = state.rows.map((r) => `${r.pod} ${r.owned.size}`).join(', ');
  if (spread) state.note('»', `all ${state.produced.length} streams handed out: ${shares}`, 'good');
  else state.note('»', `only ${state.handedOut.size} of ${state.produced.length} streams handed out after 10 s (${shares})`, 'bad');
  await sleep(Math.min(1000, hb(ctx)), ctx.signal);
}

/** SIGKILL the consumer owning the most streams; failover = kill to the last of its streams claimed (or handed out again) by a survivor. */
async function killBusiest(ctx: ScenarioContext): Promise<KillReport> {
  const { state } = ctx;
  const victim = busiest(running(ctx))!;
  const owned = [...victim.owned];
  state.enterPhase(`SIGKILL ${victim.pod} (pid ${victim.pid}), the busiest: it owns ${owned.length} streams (${list(ctx, owned)})`);
  const killedAt = Date.now();
  await ctx.fleet.kill(victim);
  const streams = owned.filter((s) => state.doneBy.get(s) !== victim.pod);
  if (streams.length === 0) {
    state.note('»', `${victim.pod} owned no unfinished stream: nothing to fail over (try a longer --work)`, 'warn');
    return { pod: victim.pod, streams, failoverMs: undefined };
  }
  const takeoverOf = (s: string) => state.takenFrom(victim.pod, killedAt).find((t) => t.stream === s);
  const allTaken = await waitUntil(() => streams.every((s) => takeoverOf(s) !== undefined), 5 * hb(ctx) + 5000, ctx.signal);
  if (!allTaken) {
    const missing = streams.filter((s) => takeoverOf(s) === undefined);
    state.note('»', `failover incomplete: ${list(ctx, missing)} not taken over within ${5 * hb(ctx) + 5000} ms`, 'bad');
    return { pod: victim.pod, streams, failoverMs: undefined };
  }
  const failoverMs = Math.max(killedAt, ...streams.map((s) => takeoverOf(s)!.at)) - killedAt;
  state.failoverMs = failoverMs;
  const to = streams.map((s) => `${state.short(s)}→${takeoverOf(s)!.pod}`).join(', ');
  state.note('»', `failover of ${victim.pod} done in ${failoverMs} ms: ${to}`, 'good');
  return { pod: victim.pod, streams, failoverMs };
}

/** SIGSTOP another consumer past its locks' TTL, SIGCONT it, and wait until it learns what it lost. */
async function stallAnother(ctx: ScenarioContext, victimPod: string): Promise<StallReport | undefined> {
  const { state } = ctx;
  const target = busiest(running(ctx).filter((r) => r.pod !== victimPod));
  if (target === undefined || target.owned.size === 0) {
    state.note('»', 'no other consumer owns a stream now: the SIGSTOP step is skipped', 'warn');
    return undefined;
  }
  const owned = [...target.owned];
  const pausedMs = 3 * hb(ctx);
  state.enterPhase(`SIGSTOP ${target.pod} for ${pausedMs} ms (3 heartbeats): its ${owned.length} locks expire (${list(ctx, owned)})`);
  const pausedAt = Date.now();
  ctx.fleet.pause(target);
  await sleep(pausedMs, ctx.signal);
  const takenOver = owned.filter((s) => state.takenFrom(target.pod, pausedAt).some((t) => t.stream === s));
  state.enterPhase(`SIGCONT ${target.pod}: ${takenOver.length} of its streams were claimed meanwhile; its next heartbeat tells it`);
  const resumedAt = Date.now();
  ctx.fleet.resume(target);
  const told = (): string[] => takenOver.filter((s) => target.disowned.has(s) || target.refused.has(s));
  const all = await waitUntil(() => told().length === takenOver.length, 2 * hb(ctx) + 3000, ctx.signal);
  const tone = all ? 'good' : 'bad';
  state.note('»', `${target.pod} learned it lost ${told().length}/${takenOver.length} streams within ${Date.now() - resumedAt} ms of SIGCONT`, tone);
  return { pod: target.pod, pausedMs, takenOver, told: told() };
}

/** Waits until every stream added is done, or the deadline (--timeout from the start) passes. */
async function finishWork(ctx: ScenarioContext): Promise<boolean> {
  const { state } = ctx;
  state.enterPhase('letting the remaining work finish');
  const left = state.startedAt + ctx.flags.timeoutMs - Date.now();
  const alive = (): boolean => state.rows.some((r) => r.state === 'running');
  const finished = await waitUntil(() => state.doneBy.size >= state.produced.length || !alive(), Math.max(0, left), ctx.signal);
  const allDone = finished && state.doneBy.size >= state.produced.length;
  if (allDone) state.note('»', `all ${state.produced.length} streams done`, 'good');
  else state.note('»', `${state.doneBy.size} of ${state.produced.length} streams done when the demo gave up`, 'bad');
  return allDone;
}
