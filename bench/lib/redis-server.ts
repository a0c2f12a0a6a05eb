import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { onCleanup, track } from '../../spec/helpers/processes';
import { freePort, spawnRedisServer, waitForRedis } from '../../spec/helpers/redis-server';

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux); undefined elsewhere. */
export const processCpuMs = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (fields 14 and 15 of proc(5)), in clock ticks (100 per second on Linux)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
};

/**
 * The benchmark's own `redis-server`: a free port on 127.0.0.1, no persistence
 * (`--save '' --appendonly no`), a fresh temp dir, and the default `hz` (10).
 */
export class BenchRedis {
  private constructor(
    readonly port: number,
    private readonly process: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(): Promise<BenchRedis> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'rscrx-bench-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const child = track(spawnRedisServer(port, dir));
    await waitForRedis(port, child);
    return new BenchRedis(port, child, dir);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.process.pid!;
  }

  connect(): Redis {
    const redis = new Redis({ port: this.port, host: '127.0.0.1' });
    redis.on('error', () => undefined);
    return redis;
  }

  /** CPU ms redis-server has used so far. */
  cpuMs(): number | undefined {
    return processCpuMs(this.pid);
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGKILL');
    await exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
