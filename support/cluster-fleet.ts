import type { Cluster } from 'ioredis';
import { Observable, Subscription, lastValueFrom, timeout, timer } from 'rxjs';
import { RedisStreamClient, addStream, claimExpired, processStreams } from '../lib';
import type { ClientOptions } from '../lib';
import type { LocalCluster } from './cluster';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** When one consumer worked on one stream: [start, end), ms. */
export interface Span {
  readonly consumer: string;
  readonly start: number;
  end: number;
}

/** What a fleet's run came to: streams lost, worked on twice, and how long the streams waited. */
export interface FleetReport {
  readonly added: number;
  readonly lost: number;
  /** Streams worked on more than once (one after the other, or at once). */
  readonly again: number;
  /** Streams two consumers worked on at once, and the longest such overlap, ms. */
  readonly overlapping: number;
  readonly windowMs: number;
  /** For every stream, ms from the producer's first attempt to add it until a consumer began its work. */
  readonly waitedMs: readonly number[];
  readonly addErrors: readonly string[];
}

/**
 * A fleet on a local Cluster, with a producer adding streams and every consumer working on each for
 * `workMs` then finishing it (claimExpired + processStreams). Records who worked on what and when,
 * to count the streams lost and measure the window in which two consumers worked on one. The
 * Cluster specs (spec/cluster/) and the Cluster benchmark (bench/scenarios/cluster.ts) use it.
 *
 * ## Example
 * ```ts
 * const fleet = new ClusterFleet(cluster, 'svc', { hbInterval: 500 }, 150);
 * fleet.start(['a', 'b', 'c']);
 * fleet.produce(20);
 * await cluster.failPrimary(await cluster.primaryOf(resolveLayout('svc', true, {}).keysOf(0).lbs));
 * await fleet.stopProducing();
 * fleet.report().lost; // 0 once every stream is processed
 * ```
 */
export class ClusterFleet {
  readonly added = new Set<string>();
  readonly processed = new Set<string>();
  readonly spans = new Map<string, Span[]>();
  /** When the producer first tried to add each stream. */
  readonly triedAt = new Map<string, number>();
  readonly errors: unknown[] = [];
  readonly addErrors: string[] = [];
  /** Replicas each add waits for (0 while the cluster is short of them). */
  replicas = 1;
  private readonly connections: Cluster[] = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly ids: string[] = [];
  private producing = false;
  private producer: Promise<void> | undefined;

  constructor(private readonly cluster: LocalCluster, readonly service: string, private readonly options: ClientOptions, private readonly workMs: number) {}

  start(ids: readonly string[]): void {
    for (const id of ids) {
      this.ids.push(id);
      const redis = this.connect();
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
    const redis = this.connect();
    this.producing = true;
    this.producer = (async () => {
      for (let i = 0; this.producing; i++) {
        const name = `${this.service}:s${i}`;
        this.triedAt.set(name, Date.now());
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

  report(): FleetReport {
    let overlapping = 0;
    let windowMs = 0;
    let again = 0;
    const waitedMs: number[] = [];
    for (const [name, spans] of this.spans) {
      if (spans.length > 1) again++;
      let overlap = 0;
      for (let i = 0; i < spans.length; i++) {
        for (let j = i + 1; j < spans.length; j++) {
          if (spans[i]!.consumer === spans[j]!.consumer) continue;
          overlap = Math.max(overlap, Math.min(spans[i]!.end, spans[j]!.end) - Math.max(spans[i]!.start, spans[j]!.start));
        }
      }
      if (overlap > 0) overlapping++;
      windowMs = Math.max(windowMs, overlap);
      const tried = this.triedAt.get(name);
      if (tried !== undefined) waitedMs.push(spans[0]!.start - tried);
    }
    return { added: this.added.size, lost: this.lost().length, again, overlapping, windowMs, waitedMs, addErrors: this.addErrors };
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

  private connect(): Cluster {
    const redis = this.cluster.connect();
    this.connections.push(redis);
    return redis;
  }
}
