import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis, { RedisOptions } from 'ioredis';
import { track, trackDir, untrackDir } from './processes';

/** True when a `redis-server` binary is on the PATH. */
export const hasRedisServer = (): boolean => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** A TCP port on 127.0.0.1 that nothing listens on (just now). */
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
 * Resolves once the `redis-server` on `port` answers PING. Rejects after `timeoutMs`, or as soon
 * as `child` cannot start (no binary) or exits.
 */
const waitForRedis = async (port: number, child: ChildProcess, timeoutMs: number, pollMs: number): Promise<void> => {
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
 * Connection options that ride out a restart or a pause of the server: reconnect every 100 ms and
 * never fail a command for it (the chaos driver's connections).
 */
export const RIDE_OUT: RedisOptions = { retryStrategy: () => 100, maxRetriesPerRequest: null };

export interface RedisServerOptions {
  /** Arguments after the defaults (so they win): persistence, `--hz`, `--rename-command`... */
  readonly args?: readonly string[];
  /** In a process group of its own, so that Ctrl-C in a terminal reaches only the parent (which stops it). */
  readonly detached?: boolean;
  /** Killed by `killAll` and the cleanup handlers (default true); the tests' shared server is not. */
  readonly tracked?: boolean;
}

/**
 * A private `redis-server` on a free port of 127.0.0.1, its data in a fresh temp dir, nothing
 * persisted unless `args` asks for it. For the tests that kill, pause, restart or reconfigure
 * Redis, and for the chaos suite, the benchmark and the demo.
 */
export class RedisServer {
  private process: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'rscrx-redis-'));

  private constructor(readonly port: number, private readonly options: RedisServerOptions) {
    trackDir(this.dir);
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options);
    try {
      await server.boot();
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** A new connection to this server (errors swallowed; close it yourself). */
  connect(options: RedisOptions = {}): Redis {
    const redis = new Redis({ host: '127.0.0.1', port: this.port, ...options });
    redis.on('error', () => undefined);
    return redis;
  }

  /** Starts the server (again, after `kill`) on the same port and data dir; resolves once it answers. */
  async boot(): Promise<void> {
    const { args = [], detached = false, tracked = true } = this.options;
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...args], {
      stdio: 'ignore',
      detached,
    });
    this.process = tracked ? track(child) : child;
    await waitForRedis(this.port, child, 10_000, 25);
  }

  /** SIGKILL (after SIGCONT, for a paused one): the server dies at once, as in a crash. */
  async kill(): Promise<void> {
    const proc = this.process;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
  }

  /** Kills the server and starts it again on the same port and data dir, `downMs` later. */
  async restart(downMs = 0): Promise<void> {
    await this.kill();
    if (downMs > 0) await sleep(downMs);
    await this.boot();
  }

  /** SIGSTOP: the server stops answering, connections stay open. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** CPU ms the server has used so far (Linux). */
  cpuMs(): number | undefined {
    return this.pid === undefined ? undefined : processCpuMs(this.pid);
  }

  /** Kills the server and removes its data dir. */
  async stop(): Promise<void> {
    await this.kill();
    untrackDir(this.dir);
  }
}
