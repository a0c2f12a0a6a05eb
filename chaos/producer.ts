import type Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../lib';
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

  /**
   * @param url the server (`redis://…`) or the Sentinel deployment (`redis-sentinel://…`)
   * @param replicas with replicas (Sentinel, Cluster): an add counts as confirmed only once this
   *   many replicas acknowledged it (addStream's `replicas`, raw adds: `WAIT`); one the primary took
   *   but did not replicate may vanish with a failover, so it is recorded as failed (counted only
   *   if a consumer saw it)
   */
  constructor(url: string, readonly service: string, private readonly tag: string, private readonly replicas = 0) {
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

  /** Adds one stream and waits for its id. */
  async add(name: string, info: Record<string, unknown> = {}, kind = 'normal'): Promise<Added> {
    const entry: Added = { name, kind, requestedAt: Date.now() };
    this.added.push(entry);
    try {
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
