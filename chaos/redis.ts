import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, spawnRedisServer, waitForRedis } from '../spec/helpers/redis-server';
import { track, trackDir, untrackDir } from '../spec/helpers/processes';

/**
 * A private `redis-server` for one chaos case (as spec/helpers/redis-server.ts, plus a restart
 * with a downtime, and persistence options). No persistence unless `args` asks for it.
 */
export class ChaosRedis {
  private process: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'rscrx-chaos-'));

  private constructor(readonly port: number, private readonly args: readonly string[]) {
    trackDir(this.dir);
  }

  static async start(args: readonly string[] = []): Promise<ChaosRedis> {
    const server = new ChaosRedis(await freePort(), args);
    await server.boot();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** A connection for the driver (producer, checks, fault injection); close it yourself. */
  connect(name: string): Redis {
    const redis = new Redis({ port: this.port, host: '127.0.0.1', connectionName: name, retryStrategy: () => 100, maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    return redis;
  }

  async boot(): Promise<void> {
    this.process = track(spawnRedisServer(this.port, this.dir, this.args));
    await waitForRedis(this.port, this.process, 10_000, 25);
  }

  /** SIGKILL: the server dies at once, as in a crash. */
  async kill(): Promise<void> {
    const proc = this.process;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
  }

  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    await this.kill();
    untrackDir(this.dir);
  }
}
