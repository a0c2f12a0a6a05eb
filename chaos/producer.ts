import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../lib';
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

  constructor(port: number, readonly service: string, private readonly tag: string) {
    this.redis = new Redis({ port, host: '127.0.0.1', connectionName: 'chaos-producer', autoResendUnfulfilledCommands: false, maxRetriesPerRequest: null, retryStrategy: () => 100 });
    this.redis.on('error', () => undefined);
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
      entry.id = await this.bounded(lastValueFrom(addStream(this.redis, this.service, { dataStreamName: name, info })));
      entry.confirmedAt = Date.now();
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
    }
    return entry;
  }

  /** XADD of raw fields (input `addStream` refuses, such as a name holding the separator). */
  async addRaw(name: string, kind: string, ...fields: string[]): Promise<Added> {
    const entry: Added = { name, kind, requestedAt: Date.now() };
    this.added.push(entry);
    try {
      entry.id = (await this.bounded(this.redis.xadd(`${this.service}-input`, '*', ...fields))) as string;
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
