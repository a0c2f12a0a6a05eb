import { expect } from 'chai';
import type { Cluster } from 'ioredis';
import { Observable, Subscription, lastValueFrom, timeout, timer } from 'rxjs';
import { RedisStreamClient, addStream, claimExpired, processStreams } from '../../lib';
import type { ClientOptions } from '../../lib';
import { partitionOf } from '../../lib/keys';
import { resolveLayout } from '../../lib/layout';
import { LocalCluster } from '../../support/cluster';
import { hasRedisServer } from '../../support/redis-server';
import { sleep, uniqueService, waitUntil } from '../../support/service';

/** When one consumer worked on one stream: [start, end), ms. */
interface Span {
  readonly consumer: string;
  readonly start: number;
  end: number;
}

/**
 * A fleet on its own local Cluster, with a producer adding streams and every consumer working on
 * each for `workMs` then finishing it (claimExpired + processStreams). Records who worked on what
 * and when, to count the streams lost and measure the window in which two consumers worked on one.
 */
class Fleet {
  readonly service = uniqueService('failover');
  readonly added = new Set<string>();
  readonly processed = new Set<string>();
  readonly spans = new Map<string, Span[]>();
  readonly errors: unknown[] = [];
  private readonly connections: Cluster[] = [];
  private readonly subscriptions: Subscription[] = [];
  private producing = false;
  private producer: Promise<void> | undefined;
  /** Replicas each add waits for (0 while the cluster is short of them). */
  replicas = 1;
  readonly addErrors: string[] = [];

  constructor(private readonly cluster: LocalCluster, private readonly options: ClientOptions, private readonly workMs: number) {}

  private readonly ids: string[] = [];

  start(ids: readonly string[]): void {
    for (const id of ids) {
      this.ids.push(id);
      const redis = this.cluster.connect();
      this.connections.push(redis);
      const client = new RedisStreamClient(redis, this.service, { consumerId: id, ...this.options });
      const work = (name: string): Observable<unknown> =>
        new Observable((s) => {
          const span: Span = { consumer: id, start: Date.now(), end: Infinity };
          this.spans.set(name, [...(this.spans.get(name) ?? []), span]);
          const done = timer(this.workMs).subscribe(s);
          return () => {
            span.end = Date.now();
            done.unsubscribe();
          };
        });
      this.subscriptions.push(
        client
          .init()
          .pipe(claimExpired(client), processStreams(client, (s) => work(s.payload.dataStreamName)))
          .subscribe({
            next: (o) => {
              if (o.type === 'Processed') this.processed.add(o.payload.dataStreamName);
            },
            error: (err: unknown) => this.errors.push(err),
          }),
      );
    }
  }

  /** Adds a stream every `everyMs` until `stopProducing`; a failed add is retried (the name is what counts). */
  produce(everyMs: number): void {
    const redis = this.cluster.connect();
    this.connections.push(redis);
    this.producing = true;
    this.producer = (async () => {
      for (let i = 0; this.producing; i++) {
        const name = `${this.service}:s${i}`;
        let added = false;
        while (!added && this.producing) {
          added = await lastValueFrom(addStream(redis, this.service, { dataStreamName: name }, { replicas: this.replicas }).pipe(timeout(3000))).then(
            () => true,
            (err: Error) => {
              this.addErrors.push(err.message);
              return false;
            },
          );
          if (!added) await sleep(50);
        }
        if (added) this.added.add(name);
        await sleep(everyMs);
      }
    })();
  }

  async stopProducing(): Promise<void> {
    this.producing = false;
    await this.producer;
  }

  lost(): string[] {
    return [...this.added].filter((name) => !this.processed.has(name));
  }

  /** Streams two consumers worked on at once, the longest such overlap (ms), and the streams worked on more than once (one after the other). */
  duplicates(): { streams: number; windowMs: number; again: number } {
    let streams = 0;
    let windowMs = 0;
    let again = 0;
    for (const spans of this.spans.values()) {
      if (spans.length > 1) again++;
      let overlap = 0;
      for (let i = 0; i < spans.length; i++) {
        for (let j = i + 1; j < spans.length; j++) {
          if (spans[i]!.consumer === spans[j]!.consumer) continue;
          overlap = Math.max(overlap, Math.min(spans[i]!.end, spans[j]!.end) - Math.max(spans[i]!.start, spans[j]!.start));
        }
      }
      if (overlap > 0) streams++;
      windowMs = Math.max(windowMs, overlap);
    }
    return { streams, windowMs, again };
  }

  /** Stops one consumer without done(): its locks are left to expire. */
  stopConsumer(id: string): void {
    this.subscriptions[this.ids.indexOf(id)]?.unsubscribe();
  }

  stop(): void {
    this.producing = false;
    for (const s of this.subscriptions) s.unsubscribe();
    for (const c of this.connections) c.disconnect();
  }
}

describe('a Redis Cluster that fails over or moves slots under load', function () {
  this.timeout(90_000);
  let cluster: LocalCluster;
  let fleet: Fleet | undefined;
  const hbInterval = 500;
  const options: ClientOptions = { hbInterval, lbsIdleTime: 4 * hbInterval };

  before(async function () {
    if (!hasRedisServer()) this.skip();
    this.timeout(60_000);
    cluster = await LocalCluster.start();
  });

  after(async () => {
    await cluster?.stop();
  });

  afterEach(() => {
    fleet?.stop();
    fleet = undefined;
  });

  /** The LBS key of partition `p` of the fleet's service. */
  const lbsOf = (f: Fleet, p: number): string => resolveLayout(f.service, true, {}).keysOf(p).lbs;

  /** A fleet of three consumers (each stream worked on for 150 ms) with a producer adding a stream every 20 ms, after `warmMs`. */
  const fleetUnderLoad = async (warmMs: number, replicas = 1): Promise<Fleet> => {
    const f = new Fleet(cluster, options, 150);
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
    const { streams, windowMs, again } = f.duplicates();
    console.log(`      ${what}: adds refused ${f.addErrors.length} (${[...new Set(f.addErrors.map((m) => m.slice(0, 60)))].join('; ')}), added ${f.added.size}, processed ${f.processed.size}, lost ${f.lost().length}, worked on again ${again}, by two at once ${streams}, duplicate window ${windowMs} ms`);
    expect(f.errors).to.deep.equal([]);
  };

  it('loses nothing when a primary is killed (SIGKILL) and its replica promoted, and no consumer errors', async () => {
    // The killed primary's partition has no replica until the end: adds cannot wait for one.
    const f = await fleetUnderLoad(1500, 0);
    const victim = await cluster.primaryOf(lbsOf(f, 0));
    const killedAt = Date.now();
    await cluster.failPrimary(victim, 'kill');
    const promotedMs = Date.now() - killedAt;
    await sleep(1500);
    await expectNothingLost(`primary killed, replica promoted after ${promotedMs} ms`, f, 30_000);
    await cluster.revive(victim);
  });

  it('loses nothing when a primary stalls (SIGSTOP) past the node timeout, its replica is promoted, and it comes back as a replica', async () => {
    const f = await fleetUnderLoad(1000);
    const victim = await cluster.primaryOf(lbsOf(f, 2));
    const stoppedAt = Date.now();
    await cluster.failPrimary(victim, 'pause');
    const promotedMs = Date.now() - stoppedAt;
    await sleep(500);
    await cluster.revive(victim);
    await sleep(1000);
    await expectNothingLost(`primary stopped, replica promoted after ${promotedMs} ms`, f, 15_000);
  });

  it('subscribes to a primary added to the Cluster, and hears the expiries of the partition moved to it', async () => {
    fleet = new Fleet(cluster, options, 60_000);
    fleet.start(['a', 'b']);
    await sleep(500);
    const added = await cluster.addPrimary();
    const lbs = lbsOf(fleet, 0);
    await cluster.migrateSlot(await cluster.slotOf(lbs), added);
    // ioredis learns the new node at its next slots refresh (MOVED, or slotsRefreshInterval), then `+node`.
    const r = cluster.connectNode(added);
    await waitUntil(async () => ((await r.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes('name=rscrx-subscriber') && l.includes('psub=1')).length >= 2, 15_000, 'both consumers subscribed on the new primary');
    // A stream of the moved partition, its owner gone: the other consumer takes it over.
    const f = fleet;
    const name = [...Array(100).keys()].map((i) => `${f.service}:n${i}`).find((n) => partitionOf(n, 3) === 0)!;
    await lastValueFrom(addStream(cluster.connect(), f.service, { dataStreamName: name }));
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
    const from = await cluster.primaryOf(lbs);
    const to = (await cluster.primaries()).find((n) => n !== from)!;
    await cluster.migrateSlot(await cluster.slotOf(lbs), to, { keysPerStep: 1, pauseMs: 50 });
    expect(await cluster.primaryOf(lbs)).to.equal(to);
    await sleep(1000);
    await expectNothingLost('slot migrated', f, 30_000);
  });
});
