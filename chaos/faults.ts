import { MUTEX_KEY_SEP } from '../lib';
import { resolveLayout } from '../lib/layout';
import type { RedisServer } from '../support/redis-server';
import type { Analysis, FaultRecord, RedisState, Window } from './checks';
import type { ConsumerProc } from './consumers';
import { sleep } from '../support/service';
import { CaseContext, CaseDef } from './driver';
import { shortName } from '../support/protocol';
import type { EventName } from '../support/protocol';

/** How long a stopped/silenced party (Redis, a connection) stays so: well past the TTL. */
const pauseOf = (hb: number): number => Math.round(2.5 * hb);
/**
 * How long a stalled consumer (SIGSTOP, blocked event loop) stays so: long enough for the others
 * to take over an entry delivered to its blocked read during the stall (the reconciler takes an
 * entry idle one TTL, at its next turn: up to 2 TTL) and to finish it (300 ms) before it wakes.
 */
const stallOf = (hb: number): number => Math.round(3.5 * hb);

const instant = (at: number, targets: readonly number[] | 'all', notes: string[], extra: Partial<FaultRecord> = {}): FaultRecord => ({
  at,
  endAt: at,
  pauseMs: 0,
  targets,
  notes,
  ...extra,
});

const holding = (c: ConsumerProc): string => `${c.name}[${c.pid}] holding ${c.openWindows().size}`;

/** A process that woke (SIGCONT, end of a busy-wait) must end each window it held when it stopped no later than its next heartbeat. */
const toldAtNextHeartbeat = (ctx: CaseContext, analysis: Analysis, fault: FaultRecord): string[] => {
  const hb = ctx.hb;
  const failures: string[] = [];
  for (const [pid, woke] of Object.entries(fault.wokeAt ?? {})) {
    const held = analysis.interrupted.filter((w) => w.pid === Number(pid));
    const late = held.filter((w) => w.end - woke > hb);
    if (held.length > 0) ctx.note(`woke, then ended its ${held.length} lost window(s) after ${held.map((w) => `${w.end - woke} ms (${w.how})`).join(', ')}`);
    if (late.length > 0) failures.push(`woke at ${woke} but learned it lost ${late.map((w) => `${w.id} only ${w.end - woke} ms later (${w.how})`).join(', ')} (bound: one heartbeat interval, ${hb} ms)`);
    const stillOpen = held.filter((w) => w.how === 'open');
    if (stillOpen.length > 0) failures.push(`still working on ${stillOpen.length} stream(s) it lost`);
  }
  return failures;
};

/** Each entry the fault took away is owned again exactly once (one new window, no churn). */
const reownedOnce = (analysis: Analysis): string[] => {
  const churn = Object.entries(analysis.interruptedRestarts)
    .map(([id, n]) => ({ id, n }))
    .filter((x) => x.n !== 1);
  return churn.length === 0 ? [] : [`re-owned other than exactly once: ${churn.slice(0, 5).map((x) => `${x.id} ×${x.n}`).join(', ')}`];
};

/**
 * Streams whose work lasts 5 TTL, added at the start of the warm-up: still being processed when a
 * Redis-wide fault comes, so that the fault interrupts something (work of a few hundred ms would
 * mostly be done, and waiting on doneStream, when the verdict comes).
 */
const longStreams = async (ctx: CaseContext, n = 3): Promise<void> => {
  const adds = [];
  for (let i = 0; i < n; i++) adds.push(await ctx.producer.add(`${ctx.tag}-long${i}`, { workMs: 5 * ctx.hb }, 'long'));
  const ids = new Set(adds.flatMap((a) => (a.id === undefined ? [] : [a.id])));
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const started = ctx.consumers.flatMap((c) => c.of('started')).filter((e) => e.id !== undefined && ids.has(e.id)).length;
    if (started >= ids.size) return;
    await sleep(20);
  }
};

const killOwner = async (ctx: CaseContext): Promise<FaultRecord> => {
  const victim = await ctx.owner();
  const what = holding(victim);
  const at = Date.now();
  await victim.kill();
  return instant(at, [victim.pid], [`SIGKILL ${what}`]);
};

/**
 * Right after a consumer stalls: one short stream per consumer, at once. Every reader blocked in
 * XREADGROUP gets one (Redis serves blocked readers in turn), the stalled one included: its reply
 * waits in its socket while the others' reconciler takes the entry over (and finishes it, 300 ms
 * of work) before the stalled consumer wakes up.
 */
const burst = async (ctx: CaseContext): Promise<void> => {
  for (let i = 0; i < ctx.live().length; i++) await ctx.producer.add(`${ctx.tag}-burst${i}`, { workMs: 300 }, 'burst');
};

const stopFor = async (ctx: CaseContext, victim: ConsumerProc, ms: number): Promise<FaultRecord> => {
  const what = holding(victim);
  const at = Date.now();
  victim.signal('SIGSTOP');
  await burst(ctx);
  await sleep(Math.max(0, at + ms - Date.now()));
  const woke = Date.now();
  victim.signal('SIGCONT');
  return { at, endAt: woke, pauseMs: woke - at, targets: [victim.pid], wokeAt: { [victim.pid]: woke }, notes: [`SIGSTOP ${what} for ${woke - at} ms`] };
};

const ODD_NAMES = [
  'odd-star-*',
  'odd-question-?',
  'odd-brackets-[a-z]',
  'odd-backslash-\\x\\',
  'odd-braces-{tag}',
  'odd-all-*?[]\\{}',
  'odd-unicode-流れ-🚀-ñ-Ω-עברית-é',
  `odd-1mb-${'m'.repeat(1_000_000)}`,
];

/**
 * A failover behind Sentinel, while the consumers work: `SENTINEL FAILOVER` (the primary hands
 * over, Sentinel closes its clients) or a SIGKILL of the primary (the sentinels see it down after
 * `down-after-milliseconds`, then promote the replica; the killed server comes back empty and
 * becomes the new primary's replica). The pause is the time without a primary (the duplicate bound
 * grows by it).
 */
const sentinelFailover = (how: 'failover' | 'kill') => async (ctx: CaseContext): Promise<FaultRecord> => {
  const deployment = ctx.sentinel!;
  await ctx.owner();
  const f = how === 'failover' ? await deployment.failover({ settle: false }) : await deployment.killPrimary({ settle: false });
  const outage = f.promotedAt - f.at;
  const what = how === 'failover' ? 'SENTINEL FAILOVER' : 'SIGKILL of the primary';
  return { at: f.at, endAt: f.promotedAt, pauseMs: outage, targets: 'all', notes: [`${what}: ${f.from} -> ${f.to}, new primary named after ${outage} ms`] };
};

/** The keyspace flags are server config, not replicated: the consumers must set them on the new primary. */
const flagsOnNewPrimary = (_ctx: CaseContext, _analysis: Analysis, state: RedisState): string[] =>
  state.flags.includes('K') && state.flags.includes('x') ? [] : [`notify-keyspace-events on the new primary is "${state.flags}" (K and x expected)`];

/** The primary that serves the partition of a stream some consumer works on now (the fault then interrupts it). */
const busyPrimary = async (ctx: CaseContext): Promise<{ primary: RedisServer; partition: number }> => {
  const cluster = ctx.cluster!;
  const owner = await ctx.owner();
  const stream = [...owner.openWindows().values()][0]!.stream!;
  const layout = resolveLayout(ctx.service, true, {});
  const partition = layout.partitionOf(stream);
  return { primary: await cluster.primaryOf(layout.keysOf(partition).lbs), partition };
};

/**
 * A Cluster primary fails while the consumers work: SIGKILL, or SIGSTOP past cluster-node-timeout
 * (then SIGCONT: it wakes as its heir's replica). Its replica is promoted; the pause is the time
 * until the heir serves the slots (the duplicate bound grows by it). The failed node rejoins after.
 */
const clusterPrimaryFails = (how: 'kill' | 'pause') => async (ctx: CaseContext): Promise<FaultRecord> => {
  const cluster = ctx.cluster!;
  const { primary, partition } = await busyPrimary(ctx);
  const at = Date.now();
  const heir = await cluster.failPrimary(primary, how);
  const endAt = Date.now();
  await cluster.revive(primary);
  const what = how === 'kill' ? 'SIGKILL' : 'SIGSTOP';
  return { at, endAt, pauseMs: endAt - at, targets: 'all', notes: [`${what} of the primary ${primary.port} (partition ${partition}): replica ${heir.port} serves its slots after ${endAt - at} ms; the old primary rejoined as a replica ${Date.now() - endAt} ms later`] };
};

export const CASES: CaseDef[] = [
  {
    name: 'sigkill-owner',
    title: 'SIGKILL the consumer holding the most streams',
    expectInterrupted: true,
    assertion: 'its streams are taken up by the survivors',
    inject: killOwner,
  },
  {
    name: 'sigstop-owner',
    title: 'SIGSTOP an owner for 3.5 TTL (streams keep coming), then SIGCONT',
    expectInterrupted: true,
    assertion: 'taken over meanwhile; the owner learns it at its next heartbeat after waking; nothing processed twice',
    inject: async (ctx) => stopFor(ctx, await ctx.owner(), stallOf(ctx.hb)),
    check: (ctx, analysis, _state, fault) => toldAtNextHeartbeat(ctx, analysis, fault),
  },
  {
    name: 'block-event-loop',
    title: 'block the owner\'s event loop for 3.5 TTL (busy-wait in a timer callback; streams keep coming)',
    expectInterrupted: true,
    assertion: 'taken over meanwhile; the owner learns it at its next heartbeat after unblocking; nothing processed twice',
    inject: async (ctx) => {
      const victim = await ctx.owner();
      const what = holding(victim);
      const at = Date.now();
      const before = victim.of('block-end').length;
      victim.signal('SIGUSR2');
      while (victim.of('block-start').length === before && Date.now() < at + 2000) await sleep(5);
      await burst(ctx);
      const deadline = Date.now() + 4 * stallOf(ctx.hb) + 5000;
      while (victim.of('block-end').length === before && Date.now() < deadline) await sleep(20);
      const start = victim.of('block-start').at(-1)?.at ?? at;
      const end = victim.of('block-end').at(-1)?.at ?? Date.now();
      return { at: start, endAt: end, pauseMs: end - start, targets: [victim.pid], wokeAt: { [victim.pid]: end }, notes: [`event loop of ${what} blocked ${end - start} ms`] };
    },
    check: (ctx, analysis, _state, fault) => toldAtNextHeartbeat(ctx, analysis, fault),
  },
  {
    name: 'kill-all-restart',
    title: 'SIGKILL every consumer; restart them (same names) within the TTL',
    expectInterrupted: true,
    assertion: 'every stream held at the kill is taken up by the restarted consumers (expiries with nobody listening)',
    inject: async (ctx) => {
      await ctx.owner();
      const old = ctx.live();
      // The new processes are loaded beforehand and start their client on SIGUSR1: a restart in
      // milliseconds, where a fresh Node process would need more than a TTL on a busy machine.
      const fresh = await Promise.all(old.map((c) => ctx.spawn(c.config.pod, { held: true })));
      const deadline = Date.now() + 15_000;
      while (fresh.some((c) => c.of('loaded').length === 0) && Date.now() < deadline) await sleep(20);
      const what = old.map(holding).join(', ');
      const at = Date.now();
      await Promise.all(old.map((c) => c.kill()));
      for (const c of fresh) c.signal('SIGUSR1');
      await ctx.waitReady(fresh);
      const ready = Math.max(...fresh.map((c) => c.of('ready')[0]?.at ?? Date.now()));
      return instant(at, old.map((c) => c.pid), [`killed ${what}; restarted, all ready ${ready - at} ms after the kill (TTL ${ctx.hb} ms)`]);
    },
    check: (ctx, _analysis, _state, fault) => {
      const ready = Math.max(...ctx.consumers.filter((c) => !(fault.targets as number[]).includes(c.pid)).map((c) => c.of('ready')[0]?.at ?? Infinity));
      return ready - fault.at < ctx.hb ? [] : [`the consumers were ready only ${ready - fault.at} ms after the kill, not within the TTL (${ctx.hb} ms)`];
    },
  },
  {
    name: 'pubsub-kill',
    title: 'SIGKILL an owner, and CLIENT KILL TYPE pubsub every 50 ms around its locks\' expiry',
    expectInterrupted: true,
    assertion: 'recovered without keyspace events (reaper/reconciler)',
    inject: async (ctx) => {
      const victim = await ctx.owner();
      const what = holding(victim);
      const at = Date.now();
      await victim.kill();
      let killed = 0;
      while (Date.now() < at + ctx.hb + 1000) {
        killed += Number(await ctx.admin.client('KILL', 'TYPE', 'pubsub'));
        await sleep(50);
      }
      return { ...instant(at, [victim.pid], [`SIGKILL ${what}; ${killed} pubsub connection(s) killed in ${Date.now() - at} ms`]), endAt: Date.now(), data: { killedPubsub: killed } };
    },
    check: (_ctx, _a, _s, fault) => ((fault.data?.killedPubsub ?? 0) > 0 ? [] : ['no pubsub connection was killed']),
  },
  {
    name: 'keyspace-off',
    title: 'CONFIG SET notify-keyspace-events \'\', then SIGKILL an owner',
    expectInterrupted: true,
    assertion: 'flags restored (K, x) and the streams recovered',
    inject: async (ctx) => {
      const victim = await ctx.owner();
      const what = holding(victim);
      const at = Date.now();
      await ctx.admin.config('SET', 'notify-keyspace-events', '');
      await victim.kill();
      let restoredAfter: number | undefined;
      while (Date.now() < at + 3 * ctx.hb) {
        const [, flags = ''] = (await ctx.admin.config('GET', 'notify-keyspace-events')) as string[];
        if (flags.includes('K') && (flags.includes('x') || flags.includes('A'))) {
          restoredAfter = Date.now() - at;
          break;
        }
        await sleep(20);
      }
      return instant(at, [victim.pid], [`flags cleared, SIGKILL ${what}; flags restored ${restoredAfter === undefined ? 'NOT within 3 TTL' : `after ${restoredAfter} ms`}`]);
    },
    check: (_ctx, _a, state) => (state.flags.includes('K') && (state.flags.includes('x') || state.flags.includes('A')) ? [] : [`notify-keyspace-events is "${state.flags}" at the end`]),
  },
  {
    name: 'redis-restart',
    title: 'SIGKILL redis-server while a handler is finishing, start it again 300 ms later, no persistence',
    assertion: 'group and flags come back; streams added after the restart all processed; nothing leaked (entries in Redis at the crash vanish with it and are not counted)',
    inject: async (ctx) => {
      // Time the crash so that at least one handler completes while Redis is down: its doneStream
      // is sent when Redis is back (empty), as a restart in the middle of the traffic would have it.
      const ends = ctx.live().flatMap((c) => [...c.openWindows().values()].map((e) => e.at + (e.workMs ?? 0)));
      const next = ends.filter((t) => t > Date.now() + 150).sort((a, b) => a - b)[0];
      if (next !== undefined && next - Date.now() < 3000) await sleep(next - 100 - Date.now());
      const at = Date.now();
      await ctx.server.restart(300);
      const up = Date.now();
      const finishing = ends.filter((t) => t >= at && t <= up).length;
      return { at, endAt: up, pauseMs: up - at, targets: 'all', dataLostAt: at, notes: [`redis-server down ${up - at} ms, restarted empty; ${finishing} handler(s) completed meanwhile`] };
    },
    check: (ctx, analysis, state, fault) => {
      const failures: string[] = [];
      if (!(state.flags.includes('K') && state.flags.includes('x'))) failures.push(`notify-keyspace-events is "${state.flags}"`);
      if (state.pending < 0) failures.push('the consumer group was not re-created');
      const after = new Set(ctx.producer.added.filter((a) => a.confirmedAt !== undefined && a.confirmedAt > fault.endAt).map((a) => a.id));
      const done = analysis.windows.filter((w) => after.has(w.id) && w.how === 'finished').length;
      ctx.note(`${analysis.vanished} entries vanished with Redis (not counted); ${done} of ${after.size} added after the restart processed`);
      if (done === 0) failures.push('nothing added after the restart was processed');
      return failures;
    },
  },
  {
    name: 'redis-restart-aof',
    title: 'SIGKILL redis-server (AOF, fsync always), down 2 TTL, start again',
    redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'],
    expectInterrupted: true,
    assertion: 'nothing vanishes; locks that expired while Redis was down (no event) are recovered',
    setup: (ctx) => longStreams(ctx),
    inject: async (ctx) => {
      await ctx.owner();
      const at = Date.now();
      await ctx.server.restart(2 * ctx.hb);
      const up = Date.now();
      return { at, endAt: up, pauseMs: up - at, targets: 'all', notes: [`redis-server down ${up - at} ms, restarted from its AOF`] };
    },
  },
  {
    name: 'redis-sigstop',
    title: 'SIGSTOP redis-server for 2.5 TTL, then SIGCONT',
    expectInterrupted: true,
    assertion: 'every lock expires at once: each stream re-owned exactly once',
    setup: (ctx) => longStreams(ctx),
    inject: async (ctx) => {
      await ctx.owner();
      const at = Date.now();
      ctx.server.pause();
      await sleep(pauseOf(ctx.hb));
      ctx.server.resume();
      const end = Date.now();
      return { at, endAt: end, pauseMs: end - at, targets: 'all', notes: [`redis-server stopped ${end - at} ms`] };
    },
    check: (_ctx, analysis) => reownedOnce(analysis),
  },
  {
    name: 'client-pause',
    title: 'CLIENT PAUSE 2.5 TTL ALL',
    expectInterrupted: true,
    assertion: 'each stream re-owned exactly once after the pause',
    setup: (ctx) => longStreams(ctx),
    inject: async (ctx) => {
      await ctx.owner();
      const ms = pauseOf(ctx.hb);
      const at = Date.now();
      await ctx.admin.client('PAUSE', ms, 'ALL');
      await sleep(ms);
      return { at, endAt: at + ms, pauseMs: ms, targets: 'all', notes: [`CLIENT PAUSE ${ms} ALL`] };
    },
    check: (_ctx, analysis) => reownedOnce(analysis),
  },
  ...(['resume', 'drop'] as const).map(
    (then): CaseDef => ({
      name: `proxy-silent-${then}`,
      title: `the owner's connections stop answering for 2.5 TTL (TCP proxy), then ${then === 'resume' ? 'deliver late' : 'drop'}`,
      proxy: true,
      expectInterrupted: true,
      assertion: 'streams taken over; the silenced consumer reads new streams again afterwards',
      setup: (ctx) => longStreams(ctx),
      inject: async (ctx) => {
        const victim = await ctx.owner();
        const proxy = ctx.proxies.get(victim)!;
        const what = holding(victim);
        const at = Date.now();
        proxy.goSilent();
        await sleep(pauseOf(ctx.hb));
        if (then === 'resume') proxy.resume();
        else proxy.drop();
        const end = Date.now();
        return { at, endAt: end, pauseMs: end - at, targets: [victim.pid], notes: [`${what}: silent ${end - at} ms, then ${then}`], data: { silenced: victim.pid } };
      },
      check: (ctx, _analysis, _state, fault) => {
        const victim = ctx.consumers.find((c) => c.pid === fault.data?.silenced)!;
        const lateIds = new Set(ctx.producer.added.filter((a) => a.confirmedAt !== undefined && a.confirmedAt > fault.endAt).map((a) => a.id));
        const reads = victim.of('added').filter((e) => e.at > fault.endAt && lateIds.has(e.id));
        ctx.note(`after the silence ${victim.name} was handed ${reads.length} new stream(s); first ${reads[0] === undefined ? 'never' : `${reads[0].at - fault.endAt} ms after`}`);
        return reads.length > 0 ? [] : [`${victim.name} was handed no new stream after the silence: its reader did not resume`];
      },
    }),
  ),
  {
    name: 'race-10',
    title: '10 consumers that do not balance (rebalance: false, as Go consumers); SIGKILL an owner: nine race for each expiry',
    consumers: 10,
    // A balanced fleet avoids the race on purpose (the designated claimer reports the expiry at
    // once, the others hold it back): the race is between consumers that claim at once.
    rebalance: 'false',
    expectInterrupted: true,
    assertion: 'each expired stream is won by exactly one consumer, while at least two heard the expiry',
    inject: killOwner,
    check: (ctx, analysis, _state, fault) => {
      const failures: string[] = [];
      for (const w of analysis.interrupted) {
        const after = (ev: EventName) => ctx.consumers.flatMap((c) => c.of(ev).filter((e) => e.id === w.id && e.at > fault.at).map(() => c.pid));
        const heard = new Set(after('expired')).size;
        const won = after('claimed').length + after('added').length;
        ctx.note(`${w.id}: expiry heard by ${heard} consumer(s), taken ${won} time(s)`);
        if (won !== 1) failures.push(`${w.id} taken ${won} times`);
        if (heard < 2) failures.push(`${w.id}: only ${heard} consumer(s) heard the expiry: no race`);
      }
      return failures;
    },
  },
  {
    name: 'twin-entries',
    title: 'two LBS entries for one data stream (3 pairs, added back to back)',
    mayDeadLetter: ['twin'],
    assertion: 'the data stream never has two owners at once; the second entry waits or is dead-lettered with its reason; the stream is processed',
    setup: async (ctx) => {
      for (let k = 0; k < 3; k++) {
        await ctx.producer.add(`twin-${ctx.tag}-${k}`, { workMs: 1500, copy: 1 }, 'twin');
        await ctx.producer.add(`twin-${ctx.tag}-${k}`, { workMs: 1500, copy: 2 }, 'twin');
        await sleep(300);
      }
    },
    inject: async (ctx) => instant(Date.now(), [], [`${ctx.producer.added.filter((a) => a.kind === 'twin').length} twin entries added`]),
    check: (ctx, analysis, state) => {
      const failures: string[] = [];
      const twins = analysis.windows.filter((w: Window) => w.name.startsWith('twin-'));
      for (const w of twins) ctx.note(`twin ${w.name} ${w.id} on ${w.consumer}[${w.pid}] ${w.start}..${w.end} (${w.how})`);
      const failed = ctx.consumers.flatMap((c) => c.of('failed').filter((e) => e.stream?.startsWith('twin-')).map((e) => `${e.stream} ${e.id} ${e.code}`));
      if (failed.length > 0) ctx.note(`failed outcomes: ${failed.join(', ')}`);
      if (analysis.sameNameOverlap.ms > ctx.hb) {
        failures.push(`one data stream held by two consumers at once for ${analysis.sameNameOverlap.ms} ms (bound ${ctx.hb} ms)`);
      }
      if (analysis.sameNameInProcess.ms > 0) failures.push(`one consumer ran two handlers of one data stream at once for ${analysis.sameNameInProcess.ms} ms`);
      const dead = new Map(ctx.producer.added.filter((a) => a.kind === 'twin').map((a) => [a.id, state.dead.find((d) => d.sourceId === a.id)]));
      for (const [id, d] of dead) if (d !== undefined) ctx.note(`twin ${id} dead-lettered: "${d.reason}"`);
      for (const name of new Set(ctx.producer.added.filter((a) => a.kind === 'twin').map((a) => a.name))) {
        if (!analysis.windows.some((w) => w.name === name && w.how === 'finished')) failures.push(`data stream ${name} was never processed (both entries dead-lettered?)`);
      }
      return failures;
    },
  },
  {
    name: 'odd-names',
    title: 'names with * ? [ ] \\ { }, unicode, 1 MB, and the separator; SIGKILL their owner',
    mustDeadLetter: ['separator'],
    expectInterrupted: true,
    assertion: 'odd names processed (and recovered after the kill) exactly once; the separator dead-lettered with its reason',
    setup: async (ctx) => {
      for (const name of ODD_NAMES) await ctx.producer.add(name, { workMs: 3000 }, 'odd-name');
      const sep = `odd-sep${MUTEX_KEY_SEP}1-1`;
      await ctx.producer.addRaw(sep, 'separator', 'lbs-input', JSON.stringify({ DataStreamName: sep, Info: {} }));
    },
    inject: async (ctx) => {
      const odd = (e: { stream?: string }) => e.stream?.startsWith('odd-') ?? false;
      const victim = await ctx.owner({ filter: odd });
      const names = [...victim.openWindows().values()].filter(odd).map((e) => shortName(e.stream!).slice(0, 30));
      const what = holding(victim);
      const at = Date.now();
      await victim.kill();
      return instant(at, [victim.pid], [`SIGKILL ${what}, odd names: ${names.join(' | ')}`]);
    },
    check: (ctx, analysis, state) => {
      const failures: string[] = [];
      const sep = ctx.producer.added.find((a) => a.kind === 'separator');
      const dead = state.dead.find((d) => d.sourceId === sep?.id);
      if (dead === undefined || !dead.reason.includes('separator')) failures.push(`the separator entry was not dead-lettered with a separator reason (${dead?.reason ?? 'not dead-lettered'})`);
      else ctx.note(`separator entry dead-lettered: "${dead.reason}"`);
      const recoveredOdd = analysis.interrupted.filter((w) => w.name.startsWith('odd-')).length;
      if (recoveredOdd === 0) failures.push('the kill interrupted no odd-named stream');
      return failures;
    },
  },
  {
    name: 'huge-info',
    title: 'an LBS entry whose Info is 10 MB',
    mustDeadLetter: ['huge-info'],
    assertion: 'dead-lettered as oversized; the consumer that read it goes on',
    setup: async (ctx) => {
      await ctx.producer.add(`huge-${ctx.tag}`, { blob: 'x'.repeat(10 * 1024 * 1024) }, 'huge-info');
    },
    inject: async (ctx) => instant(ctx.producer.added.find((a) => a.kind === 'huge-info')?.confirmedAt ?? Date.now(), [], ['one 10 MB entry added']),
    check: (ctx, _analysis, state) => {
      const huge = ctx.producer.added.find((a) => a.kind === 'huge-info');
      const dead = state.dead.find((d) => d.sourceId === huge?.id);
      if (dead === undefined || !dead.reason.startsWith('oversized')) return [`the 10 MB entry was not dead-lettered as oversized (${dead?.reason ?? 'not dead-lettered'})`];
      const reader = ctx.consumers.find((c) => c.name === dead.consumer);
      const later = reader?.of('started').filter((e) => e.at > (huge?.confirmedAt ?? 0)).length ?? 0;
      ctx.note(`dead-lettered by ${dead.consumer}: "${dead.reason}" (${Math.round(dead.bytes / 1024)} KiB copied); it started ${later} stream(s) after`);
      return later > 0 ? [] : [`${dead.consumer} started nothing after dead-lettering the entry`];
    },
  },
  {
    name: 'sentinel-failover',
    doneMayBeLost: true,
    title: 'behind Sentinel (primary, replica, 3 sentinels): SENTINEL FAILOVER while the consumers work',
    deployment: 'sentinel',
    assertion: 'the consumers follow the new primary (reader, subscriber, keyspace flags re-applied there); nothing lost',
    setup: (ctx) => longStreams(ctx),
    inject: sentinelFailover('failover'),
    check: flagsOnNewPrimary,
  },
  {
    name: 'sentinel-kill-primary',
    doneMayBeLost: true,
    title: 'behind Sentinel: SIGKILL the primary; the sentinels promote the replica',
    deployment: 'sentinel',
    expectInterrupted: true,
    assertion: 'the consumers follow the promoted replica; every stream interrupted by the outage is taken up again; nothing lost',
    setup: (ctx) => longStreams(ctx),
    inject: sentinelFailover('kill'),
    check: flagsOnNewPrimary,
  },
  {
    name: 'cluster-kill-primary',
    doneMayBeLost: true,
    title: 'on a 3+3 Cluster: SIGKILL the primary of a busy partition; its replica is promoted',
    deployment: 'cluster',
    expectInterrupted: true,
    assertion: 'the consumers follow the promoted replica (commands, reads, its subscriber); every interrupted stream taken up again; nothing lost',
    setup: (ctx) => longStreams(ctx, 6),
    inject: clusterPrimaryFails('kill'),
    check: flagsOnNewPrimary,
  },
  {
    name: 'cluster-sigstop-primary',
    doneMayBeLost: true,
    title: 'on a 3+3 Cluster: SIGSTOP the primary of a busy partition past cluster-node-timeout, then SIGCONT',
    deployment: 'cluster',
    expectInterrupted: true,
    assertion: 'its replica takes over; the woken primary becomes a replica; nothing lost',
    setup: (ctx) => longStreams(ctx, 6),
    inject: clusterPrimaryFails('pause'),
    check: flagsOnNewPrimary,
  },
  {
    name: 'cluster-slot-migration',
    title: 'on a 3+3 Cluster: the slot of a busy partition moves to another primary key by key (ASK, TRYAGAIN, MOVED) under load',
    deployment: 'cluster',
    assertion: 'nothing lost, no consumer error, every stream processed once, none interrupted (the owners keep their locks while the slot moves)',
    setup: (ctx) => longStreams(ctx, 6),
    inject: async (ctx) => {
      const cluster = ctx.cluster!;
      const { primary, partition } = await busyPrimary(ctx);
      const layout = resolveLayout(ctx.service, true, {});
      const slot = await cluster.slotOf(layout.keysOf(partition).lbs);
      const to = (await cluster.primaries()).find((p) => p.port !== primary.port)!;
      const at = Date.now();
      // A key every 100 ms: the slot is on two nodes for longer than the TTL.
      await cluster.migrateSlot(slot, to, { keysPerStep: 1, pauseMs: 100 });
      const endAt = Date.now();
      return { at, endAt, pauseMs: 0, targets: 'all', notes: [`slot ${slot} (partition ${partition}) moved from ${primary.port} to ${to.port} key by key in ${endAt - at} ms`] };
    },
    check: (ctx, analysis) => {
      // A stream handed back for balance is a move at a commit, not an interruption.
      const cut = analysis.interrupted.filter((w) => w.how !== 'rebalanced');
      const moved = analysis.interrupted.length - cut.length;
      if (moved > 0) ctx.note(`${moved} stream(s) handed back for balance meanwhile`);
      return cut.length === 0 ? [] : [`${cut.length} processing window(s) interrupted while the slot moved (an owner lost its lock, or a call failed): ${cut.slice(0, 3).map((w) => `${w.name} (${w.how})`).join(', ')}`];
    },
  },
];
