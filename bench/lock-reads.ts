/**
 * Probe: what one batch of lock reads (`touchLock`, the `PTTL` of each lock) costs the client and
 * Redis, as one pipeline of `PTTL` commands and as the library's one script call
 * (`Scripts.ttls`, lib/redis/lua/ttls-n.lua).
 *
 *   node --require tsx/cjs bench/lock-reads.ts [--locks 1000] [--rounds 200]
 *
 * Starts its own redis-server, sets half of `--locks` lock keys (the others are gone, as after a
 * mass failover), then reads all of them `--rounds` times per variant, one batch awaited before the
 * next, the variants taking turns. Prints, per batch: the wall time, the client's CPU
 * (`process.cpuUsage`) and redis-server's (`INFO cpu`), medians over 5 alternations.
 */
import type Redis from 'ioredis';
import { MUTEX_KEY_SEP, serviceKeys } from '../lib/keys';
import { Scripts } from '../lib/redis/scripts';
import { installCleanupHandlers } from '../support/processes';
import { RedisServer } from '../support/redis-server';

const arg = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
};
const LOCKS = Number(arg('locks', '1000'));
const ROUNDS = Number(arg('rounds', '200'));
const ALTERNATIONS = 5;

interface Cost {
  readonly wallMs: number;
  readonly clientMs: number;
  readonly redisMs: number;
}

const redisCpuMs = async (redis: Redis): Promise<number> => {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
};

/** The cost of one batch: `ROUNDS` batches, one after the other, divided. */
const measure = async (redis: Redis, batch: () => Promise<unknown>): Promise<Cost> => {
  await batch();
  const redis0 = await redisCpuMs(redis);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) await batch();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const redisMs = (await redisCpuMs(redis)) - redis0;
  return { wallMs: wallMs / ROUNDS, clientMs: (cpu.user + cpu.system) / 1000 / ROUNDS, redisMs: redisMs / ROUNDS };
};

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const main = async (): Promise<void> => {
  installCleanupHandlers('lock-reads', 'redis-server');
  const server = await RedisServer.start();
  const redis = server.connect();
  try {
    const keys = serviceKeys('bench-lock-reads');
    const scripts = new Scripts(redis, { lbs: keys.lbs, group: keys.group, deadlines: keys.deadlines, names: keys.names, epoch: keys.epoch, owner: 'probe', ownLocks: keys.locksOf('probe'), members: keys.members, ttl: 100_000 });
    const locks = Array.from({ length: LOCKS }, (_, i) => `bench-lock-reads:s${i}${MUTEX_KEY_SEP}${i}-0`);
    const setup = redis.pipeline();
    locks.forEach((lock, i) => i % 2 === 0 && setup.set(lock, 'probe', 'PX', 600_000));
    await setup.exec();
    const variants: Record<string, () => Promise<unknown>> = {
      'pipeline of PTTL': async () => {
        const pipeline = redis.pipeline();
        for (const lock of locks) pipeline.pttl(lock);
        await pipeline.exec();
      },
      'one ttls script call': () => scripts.ttls(locks),
    };
    const costs = new Map<string, Cost[]>(Object.keys(variants).map((v) => [v, []]));
    for (let a = 0; a < ALTERNATIONS; a++) {
      for (const [name, batch] of Object.entries(variants)) costs.get(name)!.push(await measure(redis, batch));
      process.stderr.write(`[lock-reads] alternation ${a + 1}/${ALTERNATIONS} done\n`);
    }
    console.log(`${LOCKS} lock reads per batch (half of them gone), ${ROUNDS} batches per measurement, medians of ${ALTERNATIONS}:`);
    for (const [name, cs] of costs) {
      const m = (f: (c: Cost) => number): string => median(cs.map(f)).toFixed(2);
      console.log(`  ${name.padEnd(22)} wall ${m((c) => c.wallMs)} ms, client CPU ${m((c) => c.clientMs)} ms, redis-server CPU ${m((c) => c.redisMs)} ms`);
    }
  } finally {
    redis.disconnect();
    await server.stop();
  }
};

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
