/**
 * Probe: does every hand-back of a lock produce an `expired` keyspace event?
 *
 *   npx tsx bench/release-events.ts [--releases 50000] [--concurrency 200] [--variants library,pexpire-1,pexpire-2]
 *
 * Starts its own redis-server, subscribes to every keyspace event of lock keys (flags `Kgx`, so a
 * key deleted at once shows up as `del`), and hands back `--releases` locks per variant, as
 * `release()` does: take the lock (SET PX 10 s, as the owner), run the hand-back script, then read
 * the key (PTTL) every 2 ms until Redis finds it gone (at most 10 reads). It counts, per variant,
 * the `expired` and `del` events and the locks that got neither. Variants:
 *   library    the library's own script (`Scripts.expireLock`, lib/redis/lua/expireLock-2.lua)
 *   pexpire-1  `PEXPIRE key 1` alone (the hand-back before the fix)
 *   pexpire-2  `PEXPIRE key 2` alone
 * Prints a table and writes bench/results/release-events.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { MUTEX_KEY_SEP, keyspacePattern } from '../lib/keys';
import { Scripts } from '../lib/redis/scripts';
import { installCleanupHandlers } from '../support/processes';
import { RedisServer } from '../support/redis-server';

const arg = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
};
const RELEASES = Number(arg('releases', '50000'));
const CONCURRENCY = Number(arg('concurrency', '200'));
const VARIANTS = arg('variants', 'library,pexpire-1,pexpire-2').split(',');
const OWNER = 'redis-consumer-probe';
const READS = 10;
const READ_MS = 2;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const rawHandBack = (ms: number) => `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SREM', KEYS[2], KEYS[1])
redis.call('PEXPIRE', KEYS[1], ${ms})
return 1`;

interface Tally {
  variant: string;
  releases: number;
  expired: number;
  del: number;
  neither: number;
  /** median / p99 of the reads a hand-back needed until the key was gone */
  readsMedian: number;
  readsP99: number;
  seconds: number;
}

const run = async (redis: Redis, subscriber: Redis, variant: string): Promise<Tally> => {
  const events = new Map<string, string>();
  const onMessage = (_p: string, channel: string, message: string): void => {
    if (message === 'expired' || message === 'del') events.set(channel.slice(channel.indexOf(':') + 1), message);
  };
  subscriber.on('pmessage', onMessage);
  const scripts = new Scripts(redis, { lbs: 'probe-input', group: 'probe-group', deadlines: 'probe-deadlines', names: 'probe-names', epoch: 'probe-epoch', members: 'probe-members', owner: OWNER, ownLocks: 'probe-locks', ttl: 10_000 });
  const handBack =
    variant === 'library'
      ? (key: string) => scripts.expireLock(key)
      : (key: string) => redis.eval(rawHandBack(variant === 'pexpire-1' ? 1 : 2), 2, key, 'probe-locks', OWNER).then((r) => r === 1);
  const reads: number[] = [];
  const started = Date.now();
  const one = async (i: number): Promise<void> => {
    const key = `probe-${variant}-${i}${MUTEX_KEY_SEP}${i}-0`;
    await redis.set(key, OWNER, 'PX', 10_000);
    if (!(await handBack(key))) throw new Error(`hand-back of ${key} refused`);
    for (let n = 1; n <= READS; n++) {
      await sleep(READ_MS);
      if ((await redis.pttl(key)) < 0) {
        reads.push(n);
        return;
      }
    }
    reads.push(READS + 1);
  };
  for (let from = 0; from < RELEASES; from += CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, RELEASES - from) }, (_, k) => one(from + k)));
  }
  await sleep(500);
  subscriber.off('pmessage', onMessage);
  let expired = 0;
  let del = 0;
  for (const message of events.values()) message === 'expired' ? expired++ : del++;
  reads.sort((a, b) => a - b);
  return {
    variant,
    releases: RELEASES,
    expired,
    del,
    neither: RELEASES - expired - del,
    readsMedian: reads[Math.floor(reads.length / 2)]!,
    readsP99: reads[Math.floor(reads.length * 0.99)]!,
    seconds: (Date.now() - started) / 1000,
  };
};

const main = async (): Promise<void> => {
  installCleanupHandlers('release-events', 'redis-server');
  const server = await RedisServer.start();
  const redis = server.connect();
  const subscriber = server.connect();
  try {
    await redis.config('SET', 'notify-keyspace-events', 'Kgx');
    await subscriber.psubscribe(keyspacePattern(0));
    const info = ((await redis.info('server')).match(/redis_version:(\S+)/) ?? [])[1];
    const rows: Tally[] = [];
    for (const variant of VARIANTS) {
      const row = await run(redis, subscriber, variant);
      rows.push(row);
      console.log(`${row.variant.padEnd(10)} releases ${row.releases}  expired ${row.expired}  del ${row.del}  neither ${row.neither}  reads until gone median ${row.readsMedian} p99 ${row.readsP99}  ${row.seconds.toFixed(1)} s`);
    }
    const dir = join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'release-events.json'), `${JSON.stringify({ redis: info, concurrency: CONCURRENCY, rows }, null, 2)}\n`);
  } finally {
    redis.disconnect();
    subscriber.disconnect();
    await server.stop();
  }
};

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
