import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { onCleanup, track } from './processes';
import { sleep } from './stats';

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

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
    const child = track(
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
        stdio: 'ignore',
      }),
    );
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (err) => reject(new Error(`could not start redis-server (${err.message}); install it (apt-get install redis-server)`)));
      child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}`)));
    });
    failed.catch(() => undefined);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await Promise.race([probe.connect().then(() => probe.ping()), failed]);
        probe.disconnect();
        return new BenchRedis(port, child, dir);
      } catch (err) {
        probe.disconnect();
        if (child.exitCode !== null || Date.now() > deadline) throw err;
        await sleep(50);
      }
    }
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
