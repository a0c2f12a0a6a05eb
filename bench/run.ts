/**
 * `npm run bench` — the performance benchmark of issue 5 (see docs/performance.md).
 *
 *   npm run bench                      full run (8-14 minutes on 2 cores, the entries scenarios about 5 of them; more when failovers time out)
 *   npm run bench -- --quick           short run (about 4 minutes, 2 of them the entries scenarios)
 *   npm run bench -- --soak [--soak-seconds=600]   also the memory soak (streams coming and going)
 *   npm run bench -- --only=heartbeat,handout      some scenarios only
 *      (heartbeat, cpu-memory, handout, failover, handoff, entries-design, entries, fleet, soak, cluster)
 *   --only=fleet-failover the fleet scenario's mass-failover row alone (about 30 s at 100k streams)
 *   --only=cluster        3-primary Cluster against one node (hand-out, heartbeat CPU per primary,
 *                         consumer failover with other locks held, a primary SIGKILLed under a working
 *                         fleet; see docs/scaling.md)
 *   --read-count=N        readCount of the hand-out scenario (default 500)
 *   --fleet-streams=N     streams of the fleet scenario's large scale-up and mass failover (default 100000)
 *   --bullmq-concurrency=N   concurrency of the BullMQ worker (default 100)
 *   --failover-cap=MS     longest wait for one failover before it counts as a timeout
 *
 * Starts its own redis-server (free port, no persistence, default hz), prints progress on stderr,
 * the table on stdout, and writes bench/results.json.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { installCleanupHandlers, killAll } from '../support/processes';
import { RedisServer } from '../support/redis-server';
import { BenchConfig, Row, renderTable } from './lib/report';
import { machineCpu, progress } from './lib/stats';
import { cpuMemoryScenario } from './scenarios/cpu-memory';
import { entriesDesignScenario } from './scenarios/entries-design';
import { entriesScenario } from './scenarios/entries';
import { failoverScenario } from './scenarios/failover';
import { fleetFailoverScenario, fleetScenario } from './scenarios/fleet';
import { handoffScenario } from './scenarios/handoff';
import { BULLMQ_CONCURRENCY, handoutScenario } from './scenarios/handout';
import { heartbeatScenario } from './scenarios/heartbeat';
import { soakScenario } from './scenarios/soak';
import { clusterScenario } from './scenarios/cluster';

const SCENARIOS = ['heartbeat', 'cpu-memory', 'handout', 'failover', 'handoff', 'entries-design', 'entries', 'fleet', 'fleet-failover', 'soak', 'cluster'] as const;

class UsageError extends Error {}

const parseArgs = (argv: readonly string[]): BenchConfig => {
  const flag = (name: string): string | undefined => {
    const found = argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
    if (found === undefined) return undefined;
    return found.includes('=') ? found.slice(found.indexOf('=') + 1) : '';
  };
  for (const a of argv) {
    if (!/^--(quick|soak|soak-seconds|read-count|bullmq-concurrency|failover-cap|fleet-streams|only|help)(=.*)?$/.test(a)) throw new UsageError(`unknown argument ${a} (see --help)`);
  }
  if (flag('help') !== undefined) {
    process.stdout.write(readFileSync(__filename, 'utf8').split('*/')[0]!.replace(/^\/\*\*?|^ \* ?/gm, ''));
    process.exit(0);
  }
  const quick = flag('quick') !== undefined;
  const only = flag('only')?.split(',').filter(Boolean);
  for (const s of only ?? []) if (!(SCENARIOS as readonly string[]).includes(s)) throw new UsageError(`unknown scenario ${s} (one of ${SCENARIOS.join(', ')})`);
  return {
    quick,
    soak: flag('soak') !== undefined || (only?.includes('soak') ?? false),
    soakSeconds: Number(flag('soak-seconds') ?? 600),
    readCount: Number(flag('read-count') ?? 500),
    bullmqConcurrency: Number(flag('bullmq-concurrency') ?? BULLMQ_CONCURRENCY),
    failoverCapMs: Number(flag('failover-cap') ?? (quick ? 8000 : 20000)),
    fleetStreams: Number(flag('fleet-streams') ?? 100_000),
    only,
  };
};

/** Which library code was measured: HEAD and a hash of lib/ as it is on disk (it may hold uncommitted work). */
const codeVersion = (): Record<string, string> => {
  const root = join(__dirname, '..');
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(relative(root, path)).update(readFileSync(path));
    }
  };
  walk(join(root, 'lib'));
  const git = (...args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  };
  const head = git('rev-parse', '--short', 'HEAD');
  const status = head === 'unknown' ? 'unknown' : git('status', '--porcelain', '--', 'lib');
  return { head, libDirty: status === 'unknown' ? 'unknown' : status === '' ? 'no' : 'yes', libSha256: hash.digest('hex').slice(0, 12) };
};

const main = async (): Promise<void> => {
  const config = parseArgs(process.argv.slice(2));
  // fleet-failover is a row of fleet: run alone only when asked for.
  const wanted = (s: (typeof SCENARIOS)[number]): boolean => (config.only === undefined ? (s !== 'soak' || config.soak) && s !== 'fleet-failover' : config.only.includes(s));
  installCleanupHandlers('bench', 'redis-server and child processes');
  const code = codeVersion();
  const started = Date.now();
  const server = await RedisServer.start();
  const redis = server.connect();
  const info = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const hz = ((await redis.config('GET', 'hz')) as string[])[1];
  progress('bench', `${config.quick ? 'quick' : 'full'} run; redis-server ${redisVersion} on port ${server.port} (hz ${hz}, no persistence); ${cpus().length} CPUs`);
  const libState = { yes: 'with uncommitted changes', no: 'as committed', unknown: '(not a git checkout)' }[code.libDirty] ?? code.libDirty;
  progress('bench', `library: HEAD ${code.head}, lib/ ${libState} (sha256 ${code.libSha256})`);
  if (loadavg()[0]! > 0.5) progress('bench', `note: load average ${loadavg()[0]!.toFixed(2)} before the run: other work on this machine will show in the figures`);

  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  const run = async (name: (typeof SCENARIOS)[number], fn: () => Promise<Row[]>): Promise<void> => {
    if (!wanted(name)) return;
    const t0 = Date.now();
    const load0 = loadavg()[0]!;
    progress(name, `start (load average ${load0.toFixed(2)})`);
    await redis.flushall();
    const cpu0 = machineCpu();
    const produced = await fn();
    const cpu1 = machineCpu();
    rows.push(...produced);
    const machineBusy = cpu0 && cpu1 ? (cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total) : undefined;
    details[name] = { seconds: (Date.now() - t0) / 1000, loadAverageAtStart: load0, machineCpuBusy: machineBusy };
    progress(name, `done in ${((Date.now() - t0) / 1000).toFixed(1)} s (all CPUs ${machineBusy === undefined ? '?' : (100 * machineBusy).toFixed(0)}% busy meanwhile, this run included)`);
    await redis.flushall();
  };

  try {
    await run('heartbeat', () => heartbeatScenario(server, config));
    await run('cpu-memory', () => cpuMemoryScenario(server, config));
    await run('handout', () => handoutScenario(server, config));
    await run('failover', () => failoverScenario(server, config));
    await run('handoff', () => handoffScenario(server, config));
    await run('entries-design', () => entriesDesignScenario(server, config));
    await run('entries', () => entriesScenario(server, config));
    await run('fleet', () => fleetScenario(server, config));
    await run('fleet-failover', () => fleetFailoverScenario(server, config));
    await run('soak', () => soakScenario(server, config));
    await run('cluster', () => clusterScenario(server, config));
  } finally {
    redis.disconnect();
    await server.stop();
    killAll();
  }

  const seconds = (Date.now() - started) / 1000;
  const codeAtEnd = codeVersion();
  if (codeAtEnd.libSha256 !== code.libSha256) {
    progress('bench', `WARNING: lib/ changed during the run (sha256 ${code.libSha256} -> ${codeAtEnd.libSha256}); child processes started later ran the new code: do not trust this run`);
  }
  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n\n`);
  const failed = rows.filter((r) => r.pass === false);
  process.stdout.write(
    `${rows.filter((r) => r.pass === true).length} pass, ${failed.length} fail, ${rows.filter((r) => r.pass === null).length} information only; ${seconds.toFixed(0)} s (${config.quick ? 'quick' : 'full'} run)\n`,
  );
  const results = {
    date: new Date().toISOString(),
    mode: config.quick ? 'quick' : 'full',
    seconds,
    config,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
    redis: { version: redisVersion, hz: Number(hz), persistence: 'none' },
    code: { ...code, libChangedDuringRun: codeAtEnd.libSha256 !== code.libSha256 },
    rows,
    details,
    table,
  };
  writeFileSync(join(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`results written to bench/results.json\n`);
};

main().catch((err: unknown) => {
  const detail = err instanceof UsageError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`bench failed: ${detail}\n`);
  killAll();
  process.exit(1);
});
