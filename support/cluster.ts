import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';
import { RedisServer } from './redis-server';

const run = promisify(execFile);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot = require('cluster-key-slot') as (key: string) => number;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One line of CLUSTER NODES. */
export interface ClusterNode {
  readonly id: string;
  readonly port: number;
  readonly flags: readonly string[];
  /** The primary's id, for a replica ('-' for a primary). */
  readonly master: string;
  /** Slot ranges served (primaries), e.g. ['0-5460']. */
  readonly slots: readonly string[];
}

const parseNodes = (text: string): ClusterNode[] =>
  text
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.split(' ');
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(address!)?.[1]),
        flags: flags!.split(','),
        master: master!,
        slots: slots.filter((s) => !s.startsWith('[')),
      };
    });

export interface LocalClusterOptions {
  /** Primaries (default 3); each gets `replicas` replicas. */
  readonly primaries?: number;
  readonly replicas?: number;
  /** cluster-node-timeout, ms: how long a primary may be unreachable before its replica is promoted (default 1000). */
  readonly nodeTimeoutMs?: number;
  /** More redis-server arguments for every node. */
  readonly args?: readonly string[];
  /** Killed by `killAll` and the cleanup handlers (default true); the Cluster the whole test run shares is not. */
  readonly tracked?: boolean;
}

/** Every node: cluster mode, a short node timeout, and a first full sync that starts at once (Redis 7.0 waits 5 s by default). */
const nodeArgs = (timeoutMs: number, extra: readonly string[]): string[] => [
  '--cluster-enabled', 'yes',
  '--cluster-node-timeout', String(timeoutMs),
  '--cluster-replica-validity-factor', '0',
  '--repl-diskless-sync-delay', '0',
  '--repl-diskless-sync', 'yes',
  '--notify-keyspace-events', 'Kx',
  ...extra,
];

/**
 * A local Redis Cluster of real `redis-server` processes on free ports (3 primaries + 3 replicas
 * by default), each in its own temp dir, created with `redis-cli --cluster create`. `start()`
 * resolves once every node reports `cluster_state:ok` and every replica's link to its primary is
 * up, so a primary killed at once has a replica that may take over.
 *
 * ## Example
 * ```ts
 * const cluster = await LocalCluster.start();
 * const redis = cluster.connect();
 * const victim = await cluster.primaryOf('some-key');
 * const heir = await cluster.failPrimary(victim); // SIGKILL, then wait for the replica to take over
 * await cluster.stop();
 * ```
 */
export class LocalCluster {
  private constructor(private readonly all: RedisServer[], private readonly nodeTimeoutMs: number, private readonly extraArgs: readonly string[], private readonly tracked: boolean) {}

  /** Every node started, in order (those added by `addPrimary` last). */
  get nodes(): readonly RedisServer[] {
    return this.all;
  }

  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const { primaries = 3, replicas = 1, nodeTimeoutMs = 1000, args = [], tracked = true } = options;
    const count = primaries * (1 + replicas);
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < count; i++) nodes.push(await RedisServer.start({ args: nodeArgs(nodeTimeoutMs, args), tracked }));
      const cluster = new LocalCluster(nodes, nodeTimeoutMs, args, tracked);
      await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
      await cluster.waitForHealthy(30_000);
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw err;
    }
  }

  /** The seed list of an ioredis `Cluster`. */
  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  /** A new ioredis Cluster connection (errors swallowed; close it yourself). */
  connect(options: ClusterOptions = {}): Cluster {
    const cluster = new Redis.Cluster(this.seeds, { enableReadyCheck: true, ...options });
    cluster.on('error', () => undefined);
    return cluster;
  }

  /** A plain connection to one node (errors swallowed; close it yourself). */
  connectNode(node: RedisServer, options: RedisOptions = {}): Redis {
    return node.connect({ maxRetriesPerRequest: 1, retryStrategy: () => null, ...options });
  }

  /** Runs one command on one node; undefined when the node does not answer. */
  async ask(node: RedisServer, ...args: (string | number)[]): Promise<unknown> {
    const conn = this.connectNode(node, { lazyConnect: true, connectTimeout: 500, commandTimeout: 1000 });
    try {
      await conn.connect();
      return await conn.call(args[0] as string, ...args.slice(1));
    } catch {
      return undefined;
    } finally {
      conn.disconnect();
    }
  }

  /** The nodes' view of the cluster, from the first node that answers. */
  async topology(except: readonly RedisServer[] = []): Promise<ClusterNode[]> {
    for (const node of this.nodes) {
      if (except.includes(node)) continue;
      const text = await this.ask(node, 'CLUSTER', 'NODES');
      if (typeof text === 'string') return parseNodes(text);
    }
    throw new Error('no node of the cluster answers');
  }

  /** The servers that are primaries now (in a live node's view). */
  async primaries(): Promise<RedisServer[]> {
    const view = await this.topology();
    return this.nodes.filter((n) => view.some((v) => v.port === n.port && v.flags.includes('master') && !v.flags.includes('fail') && v.slots.length > 0));
  }

  async replicas(): Promise<RedisServer[]> {
    const view = await this.topology();
    return this.nodes.filter((n) => view.some((v) => v.port === n.port && v.flags.includes('slave')));
  }

  /** The primary that serves `key` now. */
  async primaryOf(key: string): Promise<RedisServer> {
    const slot = await this.slotOf(key);
    const view = await this.topology();
    const owner = view.find((v) => v.flags.includes('master') && !v.flags.includes('fail') && v.slots.some((range) => {
      const [from, to = from] = range.split('-').map(Number);
      return slot >= from! && slot <= to!;
    }));
    const server = this.nodes.find((n) => n.port === owner?.port);
    if (server === undefined) throw new Error(`no primary serves slot ${slot}`);
    return server;
  }

  /** Resolves once every live node says `cluster_state:ok` and every live replica's link is up. */
  async waitForHealthy(timeoutMs = 20_000, down: readonly RedisServer[] = []): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.nodes.filter((n) => !down.includes(n));
      const infos = await Promise.all(live.map(async (n) => [await this.ask(n, 'CLUSTER', 'INFO'), await this.ask(n, 'INFO', 'replication')] as const));
      const sick = live.filter((_, i) => {
        const [cluster, repl] = infos[i]!;
        return !(typeof cluster === 'string' && cluster.includes('cluster_state:ok') &&
          typeof repl === 'string' && (repl.includes('role:master') || repl.includes('master_link_status:up')));
      });
      if (sick.length === 0) return;
      if (Date.now() > deadline) {
        const why = sick.map((n) => {
          const [cluster, repl] = infos[live.indexOf(n)]!;
          return `${n.port}: ${typeof cluster === 'string' ? /cluster_state:\w+/.exec(cluster)?.[0] : 'no answer'}, ${typeof repl === 'string' ? (/master_link_status:\w+/.exec(repl)?.[0] ?? /role:\w+/.exec(repl)?.[0]) : 'no answer'}`;
        });
        throw new Error(`the cluster is not healthy after ${timeoutMs} ms (${why.join('; ')})`);
      }
      await sleep(50);
    }
  }

  /**
   * Fails a primary (SIGKILL, or SIGSTOP with `pause`) and resolves with its replica once that
   * replica serves the primary's slots and every other node says the cluster is ok again (after
   * about cluster-node-timeout).
   */
  async failPrimary(primary: RedisServer, how: 'kill' | 'pause' = 'kill', timeoutMs = 10 * this.nodeTimeoutMs + 10_000): Promise<RedisServer> {
    const before = await this.topology();
    const id = before.find((v) => v.port === primary.port)?.id;
    const heirs = new Set(before.filter((v) => v.master === id).map((v) => v.port));
    if (id === undefined || heirs.size === 0) throw new Error(`the node on port ${primary.port} is no primary with a replica`);
    if (how === 'kill') await primary.kill();
    else primary.pause();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.topology([primary]).catch(() => [] as ClusterNode[]);
      const heir = view.find((v) => heirs.has(v.port) && v.flags.includes('master') && v.slots.length > 0);
      if (heir !== undefined) {
        await this.waitForHealthy(Math.max(1000, deadline - Date.now()), [primary]);
        return this.nodes.find((n) => n.port === heir.port)!;
      }
      if (Date.now() > deadline) throw new Error(`no replica took over from the primary on port ${primary.port} within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Starts a killed node again, or resumes a paused one (same port and dir: it rejoins, as a replica of its heir). */
  async revive(node: RedisServer): Promise<void> {
    node.resume();
    if ((await this.ask(node, 'PING')) === undefined) await node.boot();
    await this.waitForHealthy(20_000);
  }

  /**
   * Moves `slots` slots from one primary to another with `redis-cli --cluster reshard` (MIGRATE
   * key by key: clients meanwhile get MOVED, ASK and TRYAGAIN).
   */
  async reshard(from: RedisServer, to: RedisServer, slots: number): Promise<void> {
    const view = await this.topology();
    const id = (n: RedisServer): string => view.find((v) => v.port === n.port)!.id;
    await run('redis-cli', ['--cluster', 'reshard', `127.0.0.1:${from.port}`, '--cluster-from', id(from), '--cluster-to', id(to), '--cluster-slots', String(slots), '--cluster-yes', '--cluster-pipeline', '10'], { timeout: 120_000 });
  }

  /** Starts one more node and joins it as a primary without slots (`redis-cli --cluster add-node`). */
  async addPrimary(): Promise<RedisServer> {
    const node = await RedisServer.start({ args: nodeArgs(this.nodeTimeoutMs, this.extraArgs), tracked: this.tracked });
    this.all.push(node);
    await run('redis-cli', ['--cluster', 'add-node', `127.0.0.1:${node.port}`, `127.0.0.1:${this.all[0]!.port}`], { timeout: 30_000 });
    const deadline = Date.now() + 20_000;
    while ((await this.topology()).filter((v) => v.port === node.port).length === 0 || !(await this.everyNodeKnows(node))) {
      if (Date.now() > deadline) throw new Error(`the node on port ${node.port} did not join`);
      await sleep(50);
    }
    await this.waitForHealthy();
    return node;
  }

  private async everyNodeKnows(node: RedisServer): Promise<boolean> {
    for (const n of this.all) {
      const text = await this.ask(n, 'CLUSTER', 'NODES');
      if (typeof text !== 'string' || !parseNodes(text).some((v) => v.port === node.port && !v.flags.includes('handshake'))) return false;
    }
    return true;
  }

  /** The hash slot of `key` (computed as ioredis does, so that it needs no live node). */
  async slotOf(key: string): Promise<number> {
    return calculateSlot(key);
  }

  /**
   * Moves one slot to another primary by hand, the way `redis-cli --cluster reshard` does, but
   * slowly: IMPORTING / MIGRATING, then MIGRATE of `keysPerStep` keys every `pauseMs`, then
   * SETSLOT NODE on every primary. Meanwhile clients get ASK for the keys already moved and
   * TRYAGAIN for commands whose keys are split between the two nodes.
   */
  async migrateSlot(slot: number, to: RedisServer, { keysPerStep = 1, pauseMs = 20 } = {}): Promise<void> {
    const view = await this.topology();
    const owner = view.find((v) => v.flags.includes('master') && v.slots.some((range) => {
      const [a, b = a] = range.split('-').map(Number);
      return slot >= a! && slot <= b!;
    }));
    const target = view.find((v) => v.port === to.port);
    const from = this.nodes.find((n) => n.port === owner?.port);
    if (owner === undefined || target === undefined || from === undefined) throw new Error(`cannot move slot ${slot} to port ${to.port}`);
    if (owner.id === target.id) return;
    const src = this.connectNode(from);
    const dst = this.connectNode(to);
    try {
      await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', owner.id);
      await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
      for (;;) {
        const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, keysPerStep)) as string[];
        if (keys.length === 0) break;
        await src.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
        await sleep(pauseMs);
      }
      // The target first (it still answers MOVED while only importing), then every other primary.
      await dst.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      const masters = (await this.topology()).filter((v) => v.flags.includes('master') && !v.flags.includes('fail') && v.port !== to.port);
      for (const node of this.nodes.filter((n) => masters.some((v) => v.port === n.port))) {
        const conn = this.connectNode(node);
        await conn.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id).finally(() => conn.disconnect());
      }
    } finally {
      src.disconnect();
      dst.disconnect();
    }
  }

  /** Kills every node and removes their dirs. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
