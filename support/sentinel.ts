import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis, { RedisOptions } from 'ioredis';
import { track, trackDir, untrackDir } from './processes';
import { RedisServer, freePort } from './redis-server';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The master name the sentinels monitor. */
export const SENTINEL_MASTER = 'rscrx-primary';

/** Timings of a Sentinel deployment (ms). */
export interface SentinelTimings {
  /** `down-after-milliseconds`: how long the primary must stay silent before it counts as down */
  readonly downAfterMs: number;
  /** `failover-timeout` */
  readonly failoverTimeoutMs: number;
}

export const FAST_SENTINEL: SentinelTimings = { downAfterMs: 1000, failoverTimeoutMs: 3000 };

/**
 * A `redis-sentinel://host:port,host:port/<master name>` address: what the child consumers and
 * the chaos driver pass around where a single server has its `redis://` URL.
 */
export const sentinelUrl = (ports: readonly number[], name = SENTINEL_MASTER): string => `redis-sentinel://${ports.map((p) => `127.0.0.1:${p}`).join(',')}/${name}`;

/** ioredis options for a `redis-sentinel://` address, undefined for any other URL. */
export const sentinelOptions = (url: string): RedisOptions | undefined => {
  const m = /^redis-sentinel:\/\/([^/]+)\/(.+)$/.exec(url);
  if (m === null) return undefined;
  const sentinels = m[1]!.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    return { host: hp.slice(0, at), port: Number(hp.slice(at + 1)) };
  });
  return { sentinels, name: m[2]!, sentinelRetryStrategy: () => 100 };
};

/** A connection to `url`: a single server (`redis://…`) or a primary found through Sentinel (`redis-sentinel://…`). Errors swallowed. */
export const connectTo = (url: string, options: RedisOptions = {}): Redis => {
  const viaSentinel = sentinelOptions(url);
  const redis = viaSentinel === undefined ? new Redis(url, options) : new Redis({ ...viaSentinel, ...options });
  redis.on('error', () => undefined);
  return redis;
};

const probe = (port: number): Redis => {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
  r.on('error', () => undefined);
  return r;
};

/** Sends one command to the server on `port` on a short-lived connection; undefined when it does not answer. */
const ask = async <T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T | undefined> => {
  const r = probe(port);
  try {
    await r.connect();
    return await fn(r);
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
};

/** `INFO replication` of the server on `port`, as a map (empty when it does not answer). */
export const replicationInfo = async (port: number): Promise<Map<string, string>> => {
  const text = (await ask(port, (r) => r.info('replication'))) ?? '';
  return new Map(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
};

/** Polls `condition` until it holds; the timeout's error names `what` and, when given, what was seen last. */
const waitUntil = async (what: string, timeoutMs: number, condition: () => Promise<boolean>, pollMs = 50, seen?: () => string): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`sentinel: timed out after ${timeoutMs} ms waiting for ${what}${seen === undefined ? '' : ` (last seen: ${seen()})`}`);
    await sleep(pollMs);
  }
};

/**
 * One `redis-server --sentinel` on a free port, with a generated config (Sentinel rewrites it, so
 * it lives in a temp dir of its own).
 */
class SentinelProcess {
  private process: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'rscrx-sentinel-'));

  constructor(readonly port: number, private readonly primaryPort: number, private readonly timings: SentinelTimings) {
    trackDir(this.dir);
  }

  get logFile(): string {
    return join(this.dir, 'sentinel.log');
  }

  /** The last `count` events this sentinel logged (`+sdown`, `+switch-master`, `+tilt`...), oldest first. */
  events(count = 12): string[] {
    let text = '';
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => /\s[+-][a-z-]+\s/.test(l))
      .slice(-count)
      .map((l) => l.replace(/^\d+:X \d+ \w+ \d+ /, ''));
  }

  async boot(): Promise<void> {
    const conf = join(this.dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${this.port}`,
        `logfile ${this.logFile}`,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${this.primaryPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} ${this.timings.downAfterMs}`,
        `sentinel failover-timeout ${SENTINEL_MASTER} ${this.timings.failoverTimeoutMs}`,
        `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    this.process = track(child);
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (err) => reject(new Error(`could not start redis-server --sentinel (${err.message}); install redis-server (it includes Sentinel)`)));
      child.once('exit', (code, signal) => reject(new Error(`sentinel on port ${this.port} exited (${signal ?? `code ${code}`}) before answering`)));
    });
    failed.catch(() => undefined);
    await Promise.race([failed, waitUntil(`sentinel on ${this.port} to answer`, 10_000, async () => (await ask(this.port, (r) => r.ping())) === 'PONG')]);
  }

  /** What this sentinel thinks of the master: its address, and whether it sees it as down. */
  async master(): Promise<{ port: number; flags: string; numSentinels: number; numReplicas: number } | undefined> {
    const reply = await ask(this.port, (r) => r.call('SENTINEL', 'MASTER', SENTINEL_MASTER) as Promise<string[]>);
    if (reply === undefined) return undefined;
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < reply.length; i += 2) m.set(reply[i]!, reply[i + 1]!);
    return { port: Number(m.get('port')), flags: m.get('flags') ?? '', numSentinels: Number(m.get('num-other-sentinels') ?? 0) + 1, numReplicas: Number(m.get('num-slaves') ?? 0) };
  }

  async kill(): Promise<void> {
    const proc = this.process;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    untrackDir(this.dir);
  }
}

/** What a failover did, for a report. */
export interface FailoverRecord {
  /** when it was asked for (SENTINEL FAILOVER) or the primary was killed */
  readonly at: number;
  /** when every sentinel named the new primary, and that server said it is a primary */
  readonly promotedAt: number;
  readonly from: number;
  readonly to: number;
}

/**
 * A Sentinel deployment of real `redis-server` processes on free ports of 127.0.0.1: one primary,
 * one replica (`repl-diskless-sync-delay 0`, so the first full sync is not held back) and three
 * sentinels (quorum 2) with a short `down-after-milliseconds`. `start()` resolves once every
 * sentinel agrees on the primary, knows the other two and the replica, and the replica's link is
 * up. Clients connect with `connect()` (ioredis `sentinels` + `name`).
 *
 * ## Example
 * ```ts
 * const deployment = await SentinelDeployment.start();
 * const redis = deployment.connect();
 * await deployment.failover();        // SENTINEL FAILOVER: the replica becomes the primary
 * await deployment.killPrimary();     // SIGKILL: the sentinels promote the replica
 * await deployment.stop();
 * ```
 */
export class SentinelDeployment {
  private constructor(
    /** both data servers; which one is the primary changes with each failover */
    readonly servers: readonly RedisServer[],
    private readonly sentinels: readonly SentinelProcess[],
    readonly timings: SentinelTimings,
  ) {}

  static async start(timings: SentinelTimings = FAST_SENTINEL): Promise<SentinelDeployment> {
    const common = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--appendonly', 'no'];
    const started: { servers: RedisServer[]; sentinels: SentinelProcess[] } = { servers: [], sentinels: [] };
    try {
      const primary = await RedisServer.start({ args: common });
      started.servers.push(primary);
      started.servers.push(await RedisServer.start({ args: [...common, '--replicaof', '127.0.0.1', String(primary.port)] }));
      for (let i = 0; i < 3; i++) {
        const s = new SentinelProcess(await freePort(), primary.port, timings);
        started.sentinels.push(s);
        await s.boot();
      }
      const deployment = new SentinelDeployment(started.servers, started.sentinels, timings);
      await deployment.settled(primary.port, 20_000);
      return deployment;
    } catch (err) {
      await Promise.all([...started.sentinels, ...started.servers].map((p) => p.stop()));
      throw err;
    }
  }

  /** The sentinels' ports. */
  get sentinelPorts(): number[] {
    return this.sentinels.map((s) => s.port);
  }

  /** The address of this deployment for the child consumers (`connectTo` opens it). */
  get url(): string {
    return sentinelUrl(this.sentinelPorts);
  }

  /** ioredis options that find the primary through the sentinels. */
  get options(): RedisOptions {
    return sentinelOptions(this.url)!;
  }

  /** A connection to the current primary, through Sentinel (errors swallowed; close it yourself). */
  connect(options: RedisOptions = {}): Redis {
    return connectTo(this.url, options);
  }

  /** The port of the primary the first sentinel names. */
  async primaryPort(): Promise<number> {
    for (const s of this.sentinels) {
      const m = await s.master();
      if (m !== undefined) return m.port;
    }
    throw new Error('sentinel: no sentinel answers');
  }

  /** The server that is the primary now. */
  async primary(): Promise<RedisServer> {
    const port = await this.primaryPort();
    return this.servers.find((s) => s.port === port)!;
  }

  /** The server that is the replica now. */
  async replica(): Promise<RedisServer> {
    const port = await this.primaryPort();
    return this.servers.find((s) => s.port !== port)!;
  }

  /**
   * Resolves once every sentinel names `primaryPort`, sees it up, knows the other two sentinels and
   * one replica, that server says it is the primary with one connected replica, and the replica's
   * link is up (the first full sync is done).
   */
  async settled(primaryPort: number, timeoutMs = 20_000): Promise<void> {
    const replicaPort = this.servers.find((s) => s.port !== primaryPort)!.port;
    let seen = '';
    const fields = (info: Map<string, string>, names: readonly string[]): string => names.map((n) => `${n}=${info.get(n) ?? '?'}`).join(' ');
    const condition = async (): Promise<boolean> => {
      const views = await Promise.all(this.sentinels.map((s) => s.master()));
      const [p, r] = await Promise.all([replicationInfo(primaryPort), replicationInfo(replicaPort)]);
      const sentinelViews = views.map((v, i) => `sentinel ${this.sentinels[i]!.port}: ${v === undefined ? 'no answer' : `port=${v.port} flags=${v.flags} sentinels=${v.numSentinels} replicas=${v.numReplicas}`}`);
      seen = [...sentinelViews, `${primaryPort}: ${fields(p, ['role', 'connected_slaves'])}`, `${replicaPort}: ${fields(r, ['role', 'master_port', 'master_link_status', 'master_sync_in_progress'])}`].join('; ');
      const agree = views.every((v) => v !== undefined && v.port === primaryPort && v.flags === 'master' && v.numSentinels === this.sentinels.length && v.numReplicas >= 1);
      return agree && p.get('role') === 'master' && p.get('connected_slaves') === '1' && r.get('role') === 'slave' && r.get('master_port') === String(primaryPort) && r.get('master_link_status') === 'up' && r.get('master_sync_in_progress') === '0';
    };
    const events = (): string => this.sentinels.map((s) => `sentinel ${s.port} events: ${s.events().join(' | ')}`).join('; ');
    await waitUntil(`the sentinels to agree on primary ${primaryPort} with its replica ${replicaPort} in sync`, timeoutMs, condition, 50, () => `${seen}; ${events()}`);
  }

  /** Waits until the sentinels name a primary other than `from`, and that server has taken the role. */
  private async promotedFrom(from: number, timeoutMs: number): Promise<number> {
    let to = from;
    await waitUntil(`a new primary (the old one was ${from})`, timeoutMs, async () => {
      const views = await Promise.all(this.sentinels.map((s) => s.master()));
      const ports = new Set(views.map((v) => v?.port));
      if (ports.size !== 1 || ports.has(from) || ports.has(undefined)) return false;
      to = [...ports][0]!;
      return (await replicationInfo(to)).get('role') === 'master';
    });
    return to;
  }

  /**
   * `SENTINEL FAILOVER`: the replica becomes the primary, the old primary its replica (Sentinel
   * closes its clients' connections). Resolves once the sentinels name the new primary; with
   * `settle`, also once the old primary follows it and its link is up (ready for the next failover).
   */
  async failover({ settle = true, timeoutMs = 20_000 } = {}): Promise<FailoverRecord> {
    const from = await this.primaryPort();
    const replica = this.servers.find((s) => s.port !== from)!.port;
    const at = Date.now();
    await this.askSentinels((r) => r.call('SENTINEL', 'FAILOVER', SENTINEL_MASTER));
    // Sentinel turns the old primary into a replica only at its next INFO of it, up to 10 s after
    // the promotion, and until then the old primary takes writes that its resync throws away (a
    // split brain). Here it follows as soon as the replica is promoted, the way Sentinel does it
    // (its clients are disconnected, so that they ask Sentinel again).
    await waitUntil(`${replica} to be promoted`, timeoutMs, async () => (await replicationInfo(replica)).get('role') === 'master', 5);
    await ask(from, async (r) => {
      await r.multi().call('REPLICAOF', '127.0.0.1', String(replica)).client('KILL', 'TYPE', 'normal').client('KILL', 'TYPE', 'pubsub').exec();
    });
    const to = await this.promotedFrom(from, timeoutMs);
    const promotedAt = Date.now();
    if (settle) await this.settled(to, timeoutMs);
    return { at, promotedAt, from, to };
  }

  /**
   * SIGKILL of the primary: the sentinels see it down after `down-after-milliseconds`, agree, and
   * promote the replica. Resolves once they name the new primary; with `restart` (default), the
   * killed server then starts again, empty, as the new primary's replica (with `settle`, once the
   * sentinels see it and its link is up).
   */
  async killPrimary({ restart = true, settle = true, timeoutMs = 30_000 } = {}): Promise<FailoverRecord> {
    const victim = await this.primary();
    const at = Date.now();
    await victim.kill();
    const to = await this.promotedFrom(victim.port, timeoutMs);
    const promotedAt = Date.now();
    if (restart) {
      await victim.boot();
      // Sentinel converts a restarted old primary only after it has reported its role for 8 s, at
      // an INFO that comes every 10 s: up to 20 s before the sync even starts. It follows at once
      // here, the way Sentinel does it (already a replica of \`to\` when it booted with that
      // \`--replicaof\`, which REPLICAOF then leaves alone).
      await ask(victim.port, (r) => r.call('REPLICAOF', '127.0.0.1', String(to)));
      if (settle) await this.settled(to, timeoutMs);
    }
    return { at, promotedAt, from: victim.port, to };
  }

  /** A sentinel command to the first sentinel that answers (a failover already in progress is retried). */
  private async askSentinels<T>(fn: (r: Redis) => Promise<T>, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      for (const s of this.sentinels) {
        const r = probe(s.port);
        try {
          await r.connect();
          return await fn(r);
        } catch (err) {
          last = err;
        } finally {
          r.disconnect();
        }
      }
      await sleep(100);
    }
    throw new Error(`sentinel: no sentinel accepted the command (${last instanceof Error ? last.message : String(last)})`);
  }

  /** Stops every sentinel and server and removes their dirs. */
  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.servers].map((p) => p.stop()));
  }
}
