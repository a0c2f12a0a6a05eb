import { expect } from 'chai';
import type { Cluster } from 'ioredis';
import { Observable, Subscription, lastValueFrom, timer } from 'rxjs';
import { RedisStreamClient, addStream, claimExpired, processStreams } from '../../lib';
import type { ClientOptions } from '../../lib';
import { partitionTag } from '../../lib/keys';
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

  constructor(private readonly cluster: LocalCluster, private readonly options: ClientOptions, private readonly workMs: number) {}

  start(ids: readonly string[]): void {
    for (const id of ids) {
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
        for (;;) {
          try {
            await lastValueFrom(addStream(redis, this.service, { dataStreamName: name }));
            break;
          } catch {
            await sleep(50);
          }
        }
        this.added.add(name);
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

  /** Streams two consumers worked on at once, and the longest such overlap (ms). */
  duplicates(): { streams: number; windowMs: number } {
    let streams = 0;
    let windowMs = 0;
    for (const spans of this.spans.values()) {
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
    return { streams, windowMs };
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

  const report = (what: string, f: Fleet): void => {
    const { streams, windowMs } = f.duplicates();
    console.log(`      ${what}: added ${f.added.size}, processed ${f.processed.size}, lost ${f.lost().length}, handled twice ${streams}, duplicate window ${windowMs} ms`);
  };

  it('loses nothing when a primary is killed (SIGKILL) and its replica promoted, and no consumer errors', async () => {
    fleet = new Fleet(cluster, options, 150);
    fleet.start(['a', 'b', 'c']);
    await sleep(500);
    fleet.produce(20);
    await sleep(1500);
    const victim = await cluster.primaryOf(`${partitionTag(fleet.service, 0)}-input`);
    const killedAt = Date.now();
    await cluster.failPrimary(victim, 'kill');
    const promotedMs = Date.now() - killedAt;
    await sleep(1500);
    await fleet.stopProducing();
    const f = fleet;
    await waitUntil(() => f.lost().length === 0, 30_000, () => `every stream processed (lost ${f.lost().length} of ${f.added.size})`);
    report(`primary killed, replica promoted after ${promotedMs} ms`, f);
    expect(f.errors).to.deep.equal([]);
    await cluster.revive(victim);
  });

  it('loses nothing while the slot of a partition migrates to another primary (ASK, TRYAGAIN, then MOVED), and no consumer errors', async () => {
    fleet = new Fleet(cluster, options, 150);
    fleet.start(['a', 'b', 'c']);
    await sleep(500);
    fleet.produce(20);
    await sleep(1000);
    const lbs = `${partitionTag(fleet.service, 1)}-input`;
    const from = await cluster.primaryOf(lbs);
    const to = (await cluster.primaries()).find((n) => n !== from)!;
    await cluster.migrateSlot(await cluster.slotOf(lbs), to, { keysPerStep: 1, pauseMs: 50 });
    expect(await cluster.primaryOf(lbs)).to.equal(to);
    await sleep(1000);
    await fleet.stopProducing();
    const f = fleet;
    await waitUntil(() => f.lost().length === 0, 30_000, () => `every stream processed (lost ${f.lost().length} of ${f.added.size})`);
    report('slot migrated', f);
    expect(f.errors).to.deep.equal([]);
  });
});
