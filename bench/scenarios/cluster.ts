/**
 * Scenario: a 3-primary Redis Cluster (support/cluster.ts, 3 primaries + 3 replicas, the tagged
 * layout with its default 3 partitions) against one node (the Go layout), in the same run, with
 * the same clients in this process:
 *  - hand-out: N streams already in the LBS (every partition), one consumer (readCount 500) is
 *    handed all of them: entries per second, and Redis CPU per primary meanwhile;
 *  - heartbeat at N owned streams (full: 100k): Redis CPU per second while the consumer only
 *    extends its locks (hbInterval 2 s: all of them every second), per primary and per lock
 *    extension (µs), and the spread over the primaries (each within ±20% of their mean);
 *  - consumer failover with the N locks (quick: 30k, 10k per primary; full: 100k) held meanwhile:
 *    victims, one stream each, stop without releasing; the holder claims each after its lock
 *    expires: stop-to-claim p99 against TTL + 250 ms;
 *  - primary failover (Cluster only), the N locks still held: a fleet of three consumers works on
 *    streams a producer adds every 20 ms; the primary of partition 0 is SIGKILLed and its replica
 *    promoted (Cluster defaults), then the primary of partition 1 with `cluster-require-full-coverage
 *    no`: streams lost, how long a stream waited from its first add attempt to the start of its
 *    work (p50, p99: the recovery time), the window in which two consumers worked on one stream,
 *    and the holder's locks lost, per partition.
 * The figures feed docs/scaling.md and docs/performance.md.
 */
import type { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { Subscription, tap } from 'rxjs';
import { LBS_FIELD, RedisStreamClient, claimExpired } from '../../lib';
import type { LbsInfo, Notification } from '../../lib';
import { keyspacePrefix } from '../../lib/keys';
import { resolveLayout } from '../../lib/layout';
import { LocalCluster } from '../../support/cluster';
import { ClusterFleet, FleetReport } from '../../support/cluster-fleet';
import type { RedisServer } from '../../support/redis-server';
import type { BenchConfig, Row } from '../lib/report';
import { fmt, median, percentile, progress, waitFor, waitOrThrow } from '../lib/stats';

const TTL = 2000;

interface Target {
  readonly label: string;
  readonly service: string;
  readonly onCluster: boolean;
  readonly connect: () => Redis | Cluster;
  /** The servers that are primaries now (one node: itself). */
  readonly primaries: () => Promise<RedisServer[]>;
  /** The Cluster, for the primary failover (one node: none). */
  readonly cluster?: LocalCluster;
}

interface PrimaryFailover {
  readonly partition: number;
  readonly fullCoverage: boolean;
  readonly promotedMs: number;
  readonly fleet: FleetReport;
  /** The holder's locks reported lost (StreamDisowned) after the kill, per partition (0: the killed primary's). */
  readonly holderDisowned: readonly number[];
}

interface Measured {
  readonly handOutPerSecond: number;
  readonly handOutCpuMs: number[];
  readonly heartbeatCpuMsPerSecond: number[];
  /** Time inside the scripts by Redis's own clock (µs resolution, where the process CPU counts 10 ms ticks; wall time, so above the CPU on a loaded machine). */
  readonly heartbeatScriptMsPerSecond: number[];
  readonly usPerExtension: number;
  readonly usPerHandOut: number;
  readonly failoverMs: number[];
  /** Where the stop-to-claim time went, per victim stream (ms): the lock's deadline, its `expired` event (heard by a subscriber of the benchmark), the holder's StreamExpired, its claim. */
  readonly failoverTimeline: Record<string, number[]>;
  /** Locks other than the victims' that expired during the consumer failover, and the holder's locks lost (StreamDisowned) by its end. */
  readonly failoverOthersExpired: number;
  readonly holderDisownedTotal: number;
  readonly locksPerPrimary: number;
  readonly primaryFailovers: readonly PrimaryFailover[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** XADDs `n` entries into the service's LBS partitions, pipelined per partition (one slot each). */
const fill = async (redis: Redis | Cluster, service: string, onCluster: boolean, n: number, prefix: string): Promise<void> => {
  const layout = resolveLayout(service, onCluster, {});
  const byPartition = new Map<number, string[]>();
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    const p = layout.partitionOf(name);
    const names = byPartition.get(p);
    if (names === undefined) byPartition.set(p, [name]);
    else names.push(name);
  }
  for (const [p, names] of byPartition) {
    const lbs = layout.keysOf(p).lbs;
    for (let i = 0; i < names.length; i += 1000) {
      const pipeline = redis.pipeline();
      for (const name of names.slice(i, i + 1000)) pipeline.xadd(lbs, '*', LBS_FIELD, JSON.stringify({ DataStreamName: name, Info: {} }));
      await pipeline.exec();
    }
  }
};

const cpuOf = (servers: readonly RedisServer[]): number[] => servers.map((s) => s.cpuMs() ?? 0);

/** Redis's own accounting of the scripts' time on each server (INFO commandstats, EVALSHA, µs since the last CONFIG RESETSTAT): wall time inside the scripts, so it includes the moments the OS ran other work. */
const scriptUsecOf = (servers: readonly RedisServer[], reset = false): Promise<number[]> =>
  Promise.all(
    servers.map(async (server) => {
      const conn = server.connect();
      try {
        if (reset) await conn.config('RESETSTAT');
        return Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await conn.info('commandstats'))?.[1] ?? 0);
      } finally {
        conn.disconnect();
      }
    }),
  );
const minus = (a: readonly number[], b: readonly number[]): number[] => a.map((x, i) => x - b[i]!);

/**
 * Kills the primary of partition `partition` under a working fleet of its own service (its
 * partition p sits on the same primary as the holder's partition p: the tags put partition p in
 * the p-th third of the slots); `disowned()` counts the holder's locks lost, per partition. With
 * `fullCoverage` false, the nodes first get `cluster-require-full-coverage no`: the other
 * primaries' slots stay served while the killed one's are not (by default the whole Cluster
 * answers CLUSTERDOWN until the replica is promoted).
 */
const failPrimary = async (cluster: LocalCluster, partition: number, fullCoverage: boolean, disowned: () => readonly number[]): Promise<PrimaryFailover> => {
  const service = `bench-scale-failover-${partition}`;
  const fleet = new ClusterFleet(cluster, service, { hbInterval: TTL, lbsIdleTime: 4 * TTL }, 150);
  // The killed primary's partition has no replica until the end: adds cannot wait for one.
  fleet.replicas = 0;
  try {
    for (const node of cluster.nodes) await cluster.ask(node, 'CONFIG', 'SET', 'cluster-require-full-coverage', fullCoverage ? 'yes' : 'no');
    fleet.start(['a', 'b', 'c']);
    await sleep(1000);
    fleet.produce(20);
    await sleep(2000);
    const victim = await cluster.primaryOf(resolveLayout(service, true, {}).keysOf(partition).lbs);
    const before = [...disowned()];
    const killedAt = Date.now();
    await cluster.failPrimary(victim, 'kill');
    const promotedMs = Date.now() - killedAt;
    await sleep(2000);
    await fleet.stopProducing();
    await waitOrThrow(() => fleet.lost().length === 0, 60_000, 'every stream of the fleet processed after the primary failover');
    const report = fleet.report();
    const holderDisowned = minus(disowned(), before);
    // Back as a replica of its heir, so the next failover finds every node up.
    await cluster.revive(victim);
    progress('cluster', `primary of partition ${partition} killed (full coverage ${fullCoverage ? 'required' : 'not required'}), replica promoted after ${promotedMs} ms: ${report.added} streams, lost ${report.lost}, waited p50 ${fmt(median(report.waitedMs), 0)} ms, p99 ${fmt(percentile(report.waitedMs, 99), 0)} ms, worked on again ${report.again}, by two at once ${report.overlapping} (window ${report.windowMs} ms), holder's locks lost per partition ${holderDisowned.join(' / ')}`);
    return { partition, fullCoverage, promotedMs, fleet: report, holderDisowned };
  } finally {
    fleet.stop();
  }
};

const measure = async (target: Target, config: BenchConfig): Promise<Measured> => {
  const n = config.quick ? 30_000 : 100_000;
  const { service } = target;
  const primaries = await target.primaries();
  const admin = target.connect();
  const conn = target.connect();
  const holder = new RedisStreamClient(conn, service, { consumerId: 'bench-holder', readCount: 500, hbInterval: TTL, lbsIdleTime: 600_000 });
  const subs: Subscription[] = [];
  const connections = [admin, conn];
  try {
    await fill(admin, service, target.onCluster, n, 'owned');
    progress('cluster', `${target.label}: ${n} streams in the LBS`);
    let added = 0;
    const layout = resolveLayout(service, target.onCluster, {});
    const disowned = new Array<number>(layout.partitions).fill(0);
    const stoppedAt = new Map<string, number>();
    const claimedAt = new Map<string, number>();
    const eventAt = new Map<string, number>();
    const expiredAt = new Map<string, number>();
    const cpu0 = cpuOf(primaries);
    const t0 = Date.now();
    subs.push(
      holder
        .init()
        .pipe(
          tap((x) => {
            if (x.type === 'StreamExpired' && stoppedAt.has(x.payload.dataStreamName) && !expiredAt.has(x.payload.dataStreamName)) expiredAt.set(x.payload.dataStreamName, Date.now());
          }),
          claimExpired(holder),
        )
        .subscribe((x) => {
          // A victim's stream comes back by a claim after its expiry, or handed out again by the reconciler.
          if (stoppedAt.has(x.payload.dataStreamName) && !claimedAt.has(x.payload.dataStreamName)) claimedAt.set(x.payload.dataStreamName, Date.now());
          else if (x.type === 'StreamAdded') added++;
          else if (x.type === 'StreamDisowned') disowned[layout.partitionOf(x.payload.dataStreamName)]!++;
        }),
    );
    // One consumer's hand-out is bound by its own CPU: on a loaded machine 100k take minutes.
    await waitOrThrow(() => added >= n, Math.max(240_000, 10 * n), `${n} streams handed out (${target.label})`);
    const handOutMs = Date.now() - t0;
    const handOutCpuMs = minus(cpuOf(primaries), cpu0);
    const handOutPerSecond = n / (handOutMs / 1000);
    progress('cluster', `${target.label}: hand-out ${fmt(handOutPerSecond, 0)} entries/s; Redis CPU ${handOutCpuMs.map((c) => fmt(c, 0)).join(' / ')} ms`);

    // Heartbeat only: nothing else happens for `windowMs`.
    await sleep(TTL);
    const windowMs = config.quick ? 4000 : 10_000;
    await scriptUsecOf(primaries, true);
    const h0 = cpuOf(primaries);
    await sleep(windowMs);
    const heartbeatCpuMsPerSecond = minus(cpuOf(primaries), h0).map((c) => c / (windowMs / 1000));
    const heartbeatScriptMsPerSecond = (await scriptUsecOf(primaries)).map((us) => us / windowMs);
    const extensionsPerSecond = n / (TTL / 2 / 1000);
    const usPerExtension = (heartbeatCpuMsPerSecond.reduce((a, b) => a + b, 0) * 1000) / extensionsPerSecond;
    progress('cluster', `${target.label}: heartbeat of ${n} locks: Redis CPU ${heartbeatCpuMsPerSecond.map((c) => fmt(c, 1)).join(' / ')} ms/s (scripts ${heartbeatScriptMsPerSecond.map((c) => fmt(c, 1)).join(' / ')} ms/s), ${fmt(usPerExtension, 2)} µs per extension; the holder lost ${disowned.reduce((a, b) => a + b, 0)} streams so far`);

    // Consumer failover: victims stop without releasing; the holder claims their streams.
    const victims = config.quick ? 6 : 20;
    const victimSubs: { sub: Subscription; owned: LbsInfo[]; vconn: Redis | Cluster }[] = [];
    for (let v = 0; v < victims; v++) {
      const vconn = target.connect();
      // Its recovery sweep would examine all the holder's entries (pending longer than lbsIdleTime) in every victim: not measured here.
      const victim = new RedisStreamClient(vconn, service, { consumerId: `bench-victim-${v}`, hbInterval: TTL, lbsIdleTime: 600_000 });
      const owned: LbsInfo[] = [];
      const sub = victim.init().subscribe((x: Notification) => x.type === 'StreamAdded' && owned.push(x.payload));
      victimSubs.push({ sub, owned, vconn });
    }
    await sleep(500);
    // The holder reads too: add streams one by one until the victims own `victims` of them.
    const victimOwned = (): number => victimSubs.reduce((k, v) => k + v.owned.length, 0);
    for (let k = 0; victimOwned() < victims && k < victims * 20; k++) {
      const before = victimOwned() + added;
      await fill(admin, service, target.onCluster, 1, `victim-${k}`);
      if (!(await waitFor(() => victimOwned() + added > before, 120_000))) {
        progress('cluster', `${target.label}: a stream added for the victims was not handed out within 120 s (the holder lost ${disowned.reduce((a, b) => a + b, 0)} streams so far); going on with the victims' ${victimOwned()}`);
        break;
      }
    }
    await sleep(TTL);
    // The timeline of each victim stream: its `expired` event as a subscriber of this benchmark on every primary hears it, and the holder's StreamExpired.
    const victimLocks = new Map(victimSubs.flatMap((v) => v.owned.map((info) => [layout.lockKeyOf(info.dataStreamName, info.idInLbs), info.dataStreamName] as const)));
    let othersExpired = 0;
    const listeners = await Promise.all(
      primaries.map(async (server) => {
        const sub = server.connect();
        sub.on('pmessage', (_p: string, channel: string, event: string) => {
          const key = channel.slice(keyspacePrefix(0).length);
          const name = victimLocks.get(key);
          if (event !== 'expired') return;
          if (name === undefined) {
            if (layout.parseLockKey(key) !== undefined) othersExpired++;
          }
          else if (!eventAt.has(name)) eventAt.set(name, Date.now());
        });
        await sub.psubscribe(`${keyspacePrefix(0)}*`);
        return sub;
      }),
    );
    for (const v of victimSubs) {
      v.sub.unsubscribe();
      // Its locks stay until their TTL; its connections (subscribers on every node) go now.
      v.vconn.disconnect();
      for (const info of v.owned) stoppedAt.set(info.dataStreamName, Date.now());
    }
    // When each lock was due (its PTTL right after the stop).
    const dueAt = new Map<string, number>();
    await Promise.all(
      [...victimLocks].map(async ([lock, name]) => {
        const ttl = await admin.pttl(lock);
        dueAt.set(name, Date.now() + Math.max(0, ttl));
      }),
    );
    // A stream not claimed within a minute counts as ∞.
    await waitFor(() => [...stoppedAt.keys()].every((name) => claimedAt.has(name)), 60_000);
    listeners.forEach((l) => l.disconnect());
    const failoverMs = [...stoppedAt].map(([name, at]) => (claimedAt.get(name) ?? Infinity) - at);
    const names = [...stoppedAt.keys()];
    const gap = (from: Map<string, number>, to: Map<string, number>): number[] => names.filter((x) => from.has(x) && to.has(x)).map((x) => to.get(x)! - from.get(x)!);
    const timeline = { stopToDue: gap(stoppedAt, dueAt), dueToEvent: gap(dueAt, eventAt), eventToExpired: gap(eventAt, expiredAt), expiredToClaimed: gap(expiredAt, claimedAt), dueToClaimed: gap(dueAt, claimedAt) };
    progress('cluster', `${target.label}: stop-to-claim p50 ${fmt(median(failoverMs), 0)} ms, p99 ${fmt(percentile(failoverMs, 99), 0)} ms (${failoverMs.length} streams, ${n} other locks); p50 / max: stop to lock due ${fmt(median(timeline.stopToDue), 0)} / ${fmt(Math.max(...timeline.stopToDue), 0)}, due to expired event ${fmt(median(timeline.dueToEvent), 0)} / ${fmt(Math.max(...timeline.dueToEvent), 0)}, event to StreamExpired ${fmt(median(timeline.eventToExpired), 0)} / ${fmt(Math.max(...timeline.eventToExpired), 0)}, StreamExpired to claimed ${fmt(median(timeline.expiredToClaimed), 0)} / ${fmt(Math.max(...timeline.expiredToClaimed), 0)}; due to claimed ${fmt(median(timeline.dueToClaimed), 0)} / ${fmt(Math.max(...timeline.dueToClaimed), 0)} ms; meanwhile ${othersExpired} other locks expired, the holder lost ${disowned.reduce((a, b) => a + b, 0)}`);
    const usPerHandOut = (handOutCpuMs.reduce((a, b) => a + b, 0) * 1000) / n;
    const primaryFailovers: PrimaryFailover[] = [];
    // Cluster defaults first (every slot refused until the promotion), then the other primaries' slots served meanwhile.
    if (target.cluster !== undefined) for (const [p, full] of [[0, true], [1, false]] as const) primaryFailovers.push(await failPrimary(target.cluster, p, full, () => disowned));
    return { handOutPerSecond, handOutCpuMs, heartbeatCpuMsPerSecond, heartbeatScriptMsPerSecond, usPerExtension, usPerHandOut, failoverMs, failoverTimeline: timeline, failoverOthersExpired: othersExpired, holderDisownedTotal: disowned.reduce((a, b) => a + b, 0), locksPerPrimary: Math.round(n / primaries.length), primaryFailovers };
  } finally {
    subs.forEach((s) => s.unsubscribe());
    connections.forEach((c) => c.disconnect());
  }
};

const spread = (xs: readonly number[]): number => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.max(...xs.map((x) => Math.abs(x - mean) / mean));
};

/** A row of a cost measured on each primary, which passes when each is within ±20% of their mean (`judged` false: information only). */
const spreadRow = (id: string, scenario: string, perPrimary: readonly number[], digits: number, baseline: string, ratio: string, values: Record<string, unknown>, judged = true): Row => {
  const found = spread(perPrimary);
  const target = judged ? 'each primary within ±20% of the mean' : `spread ${fmt(100 * found, 0)}% (wall time: information)`;
  return { id, scenario, ours: perPrimary.map((c) => fmt(c, digits)).join(' / '), baseline, ratio, target, pass: judged ? found <= 0.2 : null, values: { ...values, spread: found } };
};

export const clusterScenario = async (server: RedisServer, config: BenchConfig): Promise<Row[]> => {
  const node = await measure({ label: 'one node', service: 'bench-scale-node', onCluster: false, connect: () => server.connect(), primaries: async () => [server] }, config);
  const cluster = await LocalCluster.start();
  const service = 'bench-scale';
  let clustered: Measured;
  let owners: number;
  try {
    const layout = resolveLayout(service, true, {});
    owners = new Set(await Promise.all([...Array(layout.partitions).keys()].map(async (p) => (await cluster.primaryOf(layout.keysOf(p).lbs)).port))).size;
    progress('cluster', `service ${service}: its ${layout.partitions} partitions on ${owners} primaries`);
    clustered = await measure({ label: '3-primary Cluster', service, onCluster: true, connect: () => cluster.connect(), primaries: () => cluster.primaries(), cluster }, config);
  } finally {
    await cluster.stop();
  }
  const n = config.quick ? '30k' : '100k';
  const p99 = percentile(clustered.failoverMs, 99);
  const values = { node, cluster: clustered, partitionsOnPrimaries: owners };
  return [
    {
      id: 'cluster-handout',
      scenario: 'hand-out, one consumer (entries/s)',
      ours: `${fmt(clustered.handOutPerSecond, 0)}/s (Cluster)`,
      baseline: `${fmt(node.handOutPerSecond, 0)}/s (one node)`,
      ratio: `${fmt(clustered.handOutPerSecond / node.handOutPerSecond, 2)}x`,
      target: '-',
      pass: null,
      values: { ...values, usPerHandOutNode: node.usPerHandOut, usPerHandOutCluster: clustered.usPerHandOut },
    },
    spreadRow('cluster-heartbeat', `heartbeat Redis CPU, ${n} owned (ms/s, per primary)`, clustered.heartbeatCpuMsPerSecond, 1, `${fmt(node.heartbeatCpuMsPerSecond[0]!, 1)} (one node)`, `${fmt(clustered.usPerExtension, 2)} vs ${fmt(node.usPerExtension, 2)} µs/lock`, values),
    spreadRow('cluster-heartbeat-scripts', `heartbeat script time, ${n} owned (ms/s, per primary, INFO commandstats)`, clustered.heartbeatScriptMsPerSecond, 1, `${fmt(node.heartbeatScriptMsPerSecond[0]!, 1)} (one node)`, '-', values, false),
    spreadRow('cluster-handout-cpu', 'hand-out Redis CPU per primary (ms)', clustered.handOutCpuMs, 0, `${fmt(node.handOutCpuMs[0]!, 0)} (one node)`, `${fmt(clustered.usPerHandOut, 1)} vs ${fmt(node.usPerHandOut, 1)} µs/entry`, values),
    {
      id: 'cluster-failover',
      scenario: `consumer failover, ${fmt(clustered.locksPerPrimary, 0)} other locks per primary (p99 ms)`,
      ours: `${fmt(p99, 0)} ms (Cluster)`,
      baseline: `${fmt(percentile(node.failoverMs, 99), 0)} ms (one node)`,
      ratio: '-',
      target: `<= TTL + 250 = ${TTL + 250} ms`,
      pass: p99 <= TTL + 250,
      values,
    },
    ...clustered.primaryFailovers.map((pf): Row => ({
      id: `cluster-primary-failover${pf.fullCoverage ? '' : '-partial-coverage'}`,
      scenario: `primary SIGKILLed${pf.fullCoverage ? '' : ', full coverage not required'}, ${fmt(clustered.locksPerPrimary, 0)} other locks per primary: stream wait p99 (ms)`,
      ours: `${fmt(percentile(pf.fleet.waitedMs, 99), 0)} ms (p50 ${fmt(median(pf.fleet.waitedMs), 0)})`,
      baseline: `promoted after ${fmt(pf.promotedMs, 0)} ms; holder's locks lost ${pf.holderDisowned.join(' / ')}`,
      ratio: `lost ${pf.fleet.lost}, twice at once ${pf.fleet.overlapping} (${pf.fleet.windowMs} ms), again ${pf.fleet.again}`,
      target: 'lost 0',
      pass: pf.fleet.lost === 0,
      values: { primaryFailover: pf, nodeTimeoutMs: 1000, ttl: TTL },
    })),
  ];
};
