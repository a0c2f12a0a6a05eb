import type Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../lib';
import { shortName } from '../support/protocol';
import { connectUrl } from '../support/redis-url';
import { sleep } from '../support/service';

/** One LBS entry the producer asked for. */
export interface Added {
  readonly name: string;
  /** what the entry is for: 'normal', or a case's own kind ('odd-name', 'twin', 'huge-info', 'separator') */
  readonly kind: string;
  readonly requestedAt: number;
  /** the LBS id, once Redis confirmed the XADD */
  id?: string;
  confirmedAt?: number;
  /** the XADD failed (Redis down...): the entry may or may not exist */
  error?: string;
  /** the ids of the entries written into its data stream before the LBS entry (the last one `type: end`) */
  entries?: readonly string[];
}

/** How many entries the producer writes into each data stream: `Info.workMs` (else a random time in min..max) over `entryMs`. */
export interface EntryPlan {
  readonly entryMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

const ADD_TIMEOUT_MS = 10_000;

/**
 * Keeps adding streams (`addStream`) while the consumers work, one every `intervalMs`, on a
 * connection of its own straight to Redis (never through a proxy). Commands are not re-sent after
 * a reconnection, so an XADD whose reply was lost is recorded as failed rather than added twice.
 */
export class Producer {
  readonly added: Added[] = [];
  readonly redis: Redis;
  /** the connection's events (ready, reconnecting, end...), for the evidence when an XADD hangs */
  readonly connectionLog: string[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  private count = 0;
  /** data stream (its short name) -> the ids of the entries written into it */
  readonly dataEntries = new Map<string, readonly string[]>();

  /**
   * @param url the server (`redis://…`) or the Sentinel deployment (`redis-sentinel://…`)
   * @param replicas with replicas (Sentinel, Cluster): an add counts as confirmed only once this
   *   many replicas acknowledged it (addStream's `replicas`, raw adds: `WAIT`); one the primary took
   *   but did not replicate may vanish with a failover, so it is recorded as failed (counted only
   *   if a consumer saw it)
   * @param plan the entries written into each data stream before it is added (consumeStream's work)
   */
  constructor(url: string, readonly service: string, private readonly tag: string, private readonly replicas = 0, private readonly plan?: EntryPlan) {
    this.redis = connectUrl(url, { connectionName: 'chaos-producer', autoResendUnfulfilledCommands: false, maxRetriesPerRequest: null, retryStrategy: () => 100 });
    for (const ev of ['connect', 'ready', 'close', 'reconnecting', 'end'] as const) this.redis.on(ev, () => this.connectionLog.push(`${Date.now()} ${ev}`));
  }

  /** Waits for `p`, at most `ADD_TIMEOUT_MS`: an XADD that never returns is recorded as failed (it may still be applied). */
  private async bounded<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<T>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no reply after ${ADD_TIMEOUT_MS} ms (connection ${this.redis.status})`)), ADD_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Writes the entries of a data stream (once per name: a second LBS entry for the same stream
   * reads the same entries), in one MULTI so that they are all there or none; the last one `type: end`.
   */
  private async writeEntries(name: string, info: Record<string, unknown>): Promise<readonly string[]> {
    const known = this.dataEntries.get(shortName(name));
    if (known !== undefined || this.plan === undefined) return known ?? [];
    const { entryMs, minMs, maxMs } = this.plan;
    const fromInfo = Number(info.workMs);
    const workMs = Number.isFinite(fromInfo) && fromInfo > 0 ? fromInfo : minMs + Math.random() * (maxMs - minMs);
    const count = Math.max(1, Math.round(workMs / entryMs));
    const ids = await this.bounded(this.replicas > 0 ? this.writeReplicated(name, count) : this.writeOnce(name, count));
    this.dataEntries.set(shortName(name), ids);
    return ids;
  }

  private static entriesOf(name: string, count: number, tx: { xadd(...args: string[]): unknown }): void {
    for (let n = 0; n < count; n++) tx.xadd(name, '*', 'n', String(n), 'type', n === count - 1 ? 'end' : 'data');
  }

  private async writeOnce(name: string, count: number): Promise<string[]> {
    const multi = this.redis.multi();
    Producer.entriesOf(name, count, multi as never);
    const replies = (await multi.exec()) ?? [];
    return replies.map(([err, id]) => {
      if (err) throw err;
      return id as string;
    });
  }

  /**
   * The MULTI, then WAIT, in one pipeline (one connection: on a Cluster, that of the key's slot),
   * and a throw when fewer replicas acknowledged the entries: entries a primary took but did not
   * replicate may vanish with a failover (asynchronous replication; a primary woken from SIGSTOP
   * takes writes for a moment before it learns it was demoted), and the stream is then not added.
   */
  private async writeReplicated(name: string, count: number): Promise<string[]> {
    const pipeline = this.redis.pipeline().call('MULTI');
    Producer.entriesOf(name, count, pipeline as never);
    const replies = (await pipeline.call('EXEC').call('WAIT', this.replicas, 1000).exec()) ?? [];
    const failed = replies.find(([err]: [Error | null, unknown]) => err !== null);
    if (failed !== undefined) throw failed[0];
    const [, acked] = replies[replies.length - 1]!;
    if (Number(acked) < this.replicas) throw new Error(`entries of ${name} reached ${String(acked)} of ${this.replicas} replicas in time`);
    return replies[replies.length - 2]![1] as string[];
  }

  /** Adds one stream (its entries first, with an entry plan) and waits for its id. */
  async add(name: string, info: Record<string, unknown> = {}, kind = 'normal'): Promise<Added> {
    const entry: Added = { name, kind, requestedAt: Date.now() };
    this.added.push(entry);
    try {
      entry.entries = await this.writeEntries(name, info);
      const id = await this.bounded(lastValueFrom(addStream(this.redis, this.service, { dataStreamName: name, info }, this.replicas > 0 ? { replicas: this.replicas } : {})));
      entry.id = id;
      entry.confirmedAt = Date.now();
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
    }
    return entry;
  }

  /** Waits (at most 1 s) for `replicas` replicas to acknowledge the writes so far; throws when they did not. */
  private async replicated(id: string): Promise<void> {
    if (this.replicas === 0) return;
    const acked = (await this.bounded(this.redis.wait(this.replicas, 1000))) as number;
    if (acked < this.replicas) throw new Error(`${id} not replicated (WAIT ${this.replicas}: ${acked})`);
  }

  /** XADD of raw fields (input `addStream` refuses, such as a name holding the separator). */
  async addRaw(name: string, kind: string, ...fields: string[]): Promise<Added> {
    const entry: Added = { name, kind, requestedAt: Date.now() };
    this.added.push(entry);
    try {
      const id = (await this.bounded(this.redis.xadd(`${this.service}-input`, '*', ...fields))) as string;
      await this.replicated(id);
      entry.id = id;
      entry.confirmedAt = Date.now();
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
    }
    return entry;
  }

  start(intervalMs: number): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const i = this.count++;
        await this.add(`${this.tag}-s${i}`, { i });
        await sleep(intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  close(): void {
    this.redis.disconnect();
  }
}
