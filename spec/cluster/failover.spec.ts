import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { RedisStreamClient, addStream } from '../../lib';
import type { ClientOptions, Notification } from '../../lib';
import { partitionOf } from '../../lib/keys';
import { resolveLayout } from '../../lib/layout';
import { ClusterFleet as Fleet } from '../../support/cluster-fleet';
import { useLocalCluster } from '../helpers/local-cluster';
import { sleep, uniqueService, waitUntil } from '../../support/service';

describe('a Redis Cluster that fails over or moves slots under load', function () {
  this.timeout(90_000);
  const local = useLocalCluster();
  let fleet: Fleet | undefined;
  const hbInterval = 500;
  const options: ClientOptions = { hbInterval, lbsIdleTime: 4 * hbInterval };

  afterEach(() => {
    fleet?.stop();
    fleet = undefined;
  });

  /** The LBS key of partition `p` of the fleet's service. */
  const lbsOf = (f: Fleet, p: number): string => resolveLayout(f.service, true, {}).keysOf(p).lbs;

  /** A fleet of three consumers (each stream worked on for 150 ms) with a producer adding a stream every 20 ms, after `warmMs`. */
  const fleetUnderLoad = async (warmMs: number, replicas = 1): Promise<Fleet> => {
    const f = new Fleet(local.cluster, uniqueService('failover'), options, 150);
    fleet = f;
    f.replicas = replicas;
    f.start(['a', 'b', 'c']);
    await sleep(500);
    f.produce(20);
    await sleep(warmMs);
    return f;
  };

  /** Stops the producer, waits until every stream added is processed, reports the duplicates, and expects no consumer error. */
  const expectNothingLost = async (what: string, f: Fleet, withinMs: number): Promise<void> => {
    await f.stopProducing();
    await waitUntil(() => f.lost().length === 0, withinMs, () => `every stream processed (lost ${f.lost().length} of ${f.added.size})`);
    const { overlapping, windowMs, again, addErrors } = f.report();
    console.log(`      ${what}: adds refused ${addErrors.length} (${[...new Set(addErrors.map((m) => m.slice(0, 60)))].join('; ')}), added ${f.added.size}, processed ${f.processed.size}, lost ${f.lost().length}, worked on again ${again}, by two at once ${overlapping}, duplicate window ${windowMs} ms`);
    expect(f.errors).to.deep.equal([]);
  };

  it('loses nothing when a primary is killed (SIGKILL) and its replica promoted, and no consumer errors', async () => {
    // The killed primary's partition has no replica until the end: adds cannot wait for one.
    const f = await fleetUnderLoad(1500, 0);
    const victim = await local.cluster.primaryOf(lbsOf(f, 0));
    const killedAt = Date.now();
    await local.cluster.failPrimary(victim, 'kill');
    const promotedMs = Date.now() - killedAt;
    await sleep(1500);
    await expectNothingLost(`primary killed, replica promoted after ${promotedMs} ms`, f, 30_000);
    await local.cluster.revive(victim);
  });

  it('loses nothing when a primary stalls (SIGSTOP) past the node timeout, its replica is promoted, and it comes back as a replica', async () => {
    const f = await fleetUnderLoad(1000);
    const victim = await local.cluster.primaryOf(lbsOf(f, 2));
    const stoppedAt = Date.now();
    await local.cluster.failPrimary(victim, 'pause');
    const promotedMs = Date.now() - stoppedAt;
    await sleep(500);
    await local.cluster.revive(victim);
    await sleep(1000);
    await expectNothingLost(`primary stopped, replica promoted after ${promotedMs} ms`, f, 15_000);
  });

  it('subscribes to a primary added to the Cluster, and hears the expiries of the partition moved to it', async () => {
    fleet = new Fleet(local.cluster, uniqueService('failover'), options, 60_000);
    fleet.start(['a', 'b']);
    await sleep(500);
    const added = await local.cluster.addPrimary();
    const lbs = lbsOf(fleet, 0);
    await local.cluster.migrateSlot(await local.cluster.slotOf(lbs), added);
    // ioredis learns the new node at its next slots refresh (MOVED, or slotsRefreshInterval), then `+node`.
    const r = local.cluster.connectNode(added);
    await waitUntil(async () => ((await r.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes('name=rscrx-subscriber') && l.includes('psub=1')).length >= 2, 15_000, 'both consumers subscribed on the new primary');
    // A stream of the moved partition, its owner gone: the other consumer takes it over.
    const f = fleet;
    const name = [...Array(100).keys()].map((i) => `${f.service}:n${i}`).find((n) => partitionOf(n, 3) === 0)!;
    const producer = local.cluster.connect();
    await lastValueFrom(addStream(producer, f.service, { dataStreamName: name })).finally(() => producer.disconnect());
    await waitUntil(() => (f.spans.get(name) ?? []).length === 1, 5000, 'the stream handed out');
    const first = f.spans.get(name)![0]!.consumer;
    f.stopConsumer(first);
    await waitUntil(() => (f.spans.get(name) ?? []).some((s) => s.consumer !== first), 10_000, 'the other consumer to take the stream over');
    r.disconnect();
    expect(f.errors).to.deep.equal([]);
  });

  it('loses nothing while the slot of a partition migrates to another primary (ASK, TRYAGAIN, then MOVED), and no consumer errors', async () => {
    const f = await fleetUnderLoad(1000);
    const lbs = lbsOf(f, 1);
    const from = await local.cluster.primaryOf(lbs);
    const to = (await local.cluster.primaries()).find((n) => n !== from)!;
    await local.cluster.migrateSlot(await local.cluster.slotOf(lbs), to, { keysPerStep: 1, pauseMs: 50 });
    expect(await local.cluster.primaryOf(lbs)).to.equal(to);
    await sleep(1000);
    await expectNothingLost('slot migrated', f, 30_000);
  });
});

describe('a consumer whose partition moves to another primary key by key', function () {
  this.timeout(90_000);
  const local = useLocalCluster();

  it('keeps every stream it owns (its heartbeat gets TRYAGAIN while the locks are split between two nodes), and finishes streams meanwhile', async () => {
    const service = uniqueService('migrating');
    const hbInterval = 1000;
    const partition = 1;
    const names = [...Array(400).keys()].map((i) => `${service}:s${i}`).filter((n) => partitionOf(n, 3) === partition).slice(0, 40);
    const redis = local.cluster.connect();
    const producer = local.cluster.connect();
    const client = new RedisStreamClient(redis, service, { consumerId: 'mover', hbInterval, lbsIdleTime: 60_000, rebalance: false, reconcileInterval: 60_000 });
    const seen: Notification[] = [];
    const errors: unknown[] = [];
    const sub = client.init().subscribe({ next: (n) => seen.push(n), error: (err: unknown) => errors.push(err) });
    try {
      for (const dataStreamName of names) await lastValueFrom(addStream(producer, service, { dataStreamName }));
      await waitUntil(() => seen.filter((n) => n.type === 'StreamAdded').length === names.length, 10_000, 'every stream handed out');
      const layout = resolveLayout(service, true, {});
      const lbs = layout.keysOf(partition).lbs;
      const from = await local.cluster.primaryOf(lbs);
      const to = (await local.cluster.primaries()).find((n) => n !== from)!;
      const startedAt = Date.now();
      // About 50 keys (locks, fences, the LBS, the lock set, ...), one every 50 ms: more than two TTLs with the locks on two nodes.
      const moved = local.cluster.migrateSlot(await local.cluster.slotOf(lbs), to, { keysPerStep: 1, pauseMs: 50 });
      // doneStream's script declares six keys of the slot: refused (TRYAGAIN) until the move ends, more than ioredis' own 1.6 s of retries.
      await sleep(300);
      const finished = names.slice(0, 5);
      const dones = Promise.all(finished.map((name) => lastValueFrom(client.doneStream(name), { defaultValue: undefined })));
      await moved;
      const movedInMs = Date.now() - startedAt;
      await dones;
      expect(await local.cluster.primaryOf(lbs)).to.equal(to);
      expect(movedInMs, 'the migration outlasts the TTL').to.be.above(2 * hbInterval);
      await sleep(2 * hbInterval);
      expect(errors).to.deep.equal([]);
      const others = seen.filter((n) => n.type !== 'StreamAdded');
      expect(others.map((n) => `${n.type} ${JSON.stringify(n.payload).slice(0, 80)}`), `notifications other than StreamAdded during a ${movedInMs} ms migration`).to.deep.equal([]);
      const added = seen.flatMap((n) => (n.type === 'StreamAdded' && !finished.includes(n.payload.dataStreamName) ? [n.payload] : []));
      expect(added).to.have.length(names.length - finished.length);
      expect(await redis.xlen(lbs), 'the finished streams\' entries deleted').to.equal(names.length - finished.length);
      const holders = await Promise.all(added.map((info) => redis.get(layout.lockKeyOf(info.dataStreamName, info.idInLbs))));
      expect(new Set(holders)).to.deep.equal(new Set([client.id]));
    } finally {
      sub.unsubscribe();
      redis.disconnect();
      producer.disconnect();
    }
  });
});
