import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

/** True when a `redis-server` binary is on the PATH. */
export const hasRedisServer = (): boolean => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a private `redis-server` on 127.0.0.1:`port`, data in `dir`, nothing persisted unless
 * `args` (last, so they win) asks for it. Tests, the chaos suite and the benchmark all use it.
 */
export const spawnRedisServer = (port: number, dir: string, args: readonly string[] = []): ChildProcess =>
  spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], {
    stdio: 'ignore',
  });

/**
 * Resolves once the `redis-server` on `port` answers PING. Rejects after `timeoutMs`, or as soon
 * as `child` cannot start (no binary) or exits.
 */
export const waitForRedis = async (port: number, child: ChildProcess, timeoutMs = 10_000, pollMs = 50): Promise<void> => {
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`could not start redis-server (${err.message}); install it (apt-get install redis-server)`)));
    child.once('exit', (code, signal) => reject(new Error(`redis-server on port ${port} exited (${signal ?? `code ${code}`}) before answering`)));
  });
  failed.catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await Promise.race([probe.connect().then(() => probe.ping()), failed]);
      probe.disconnect();
      return;
    } catch (err) {
      probe.disconnect();
      if (child.exitCode !== null || child.signalCode !== null) throw err;
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
      await sleep(pollMs);
    }
  }
};

/**
 * A private `redis-server` on a free port, for tests that kill, pause, restart or reconfigure
 * Redis. Nothing persists unless `args` asks for it (the data dir is a fresh temp folder).
 */
export class RedisServer {
  private process: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'rscrx-redis-'));

  private constructor(readonly port: number, private readonly args: string[]) {}

  static async start(args: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), args);
    await server.boot();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.process!.pid!;
  }

  /** A new connection to this server (close it yourself). */
  connect(options: { db?: number } = {}): Redis {
    return new Redis({ port: this.port, host: '127.0.0.1', db: options.db ?? 0, lazyConnect: false });
  }

  private async boot(): Promise<void> {
    this.process = spawnRedisServer(this.port, this.dir, this.args);
    await waitForRedis(this.port, this.process);
  }

  /** SIGKILL: the server dies at once, as in a crash. */
  async kill(): Promise<void> {
    const proc = this.process;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  /** Kills the server and starts it again on the same port (and data dir). */
  async restart(): Promise<void> {
    await this.kill();
    await this.boot();
  }

  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
