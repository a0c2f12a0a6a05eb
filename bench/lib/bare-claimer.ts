/**
 * The mass-failover row's baseline: the least a hand-written survivor does, in a child process
 * (forked by `bareFailover` in `bench/scenarios/fleet.ts`). It hears the expired locks (the same PSUBSCRIBE as the library), takes
 * the ones a static rendezvous over its peers gives it (no registry, no shares, no runner-up: a
 * stream whose claimer died as well stays lost), and claims each with one SET NX and one XCLAIM, a
 * script call per event-loop turn; its heartbeat PEXPIREs every lock it took, one call per 5,000.
 * No entry is read, no fence kept, no duplicate checked, nothing reported: a floor for this
 * machine, not a design.
 *
 * Environment: REDIS_URL, LBS, GROUP, ME, PEERS (comma-separated), TTL_MS. Messages to the parent:
 * `{ ready: true }` once subscribed, `{ claimed }` when asked (any message).
 */
import Redis from 'ioredis';
import { MUTEX_KEY_SEP } from '../../lib/keys';
import { rendezvous } from '../../lib/rules/rendezvous';

const CLAIM = `
local out = {}
for i = 2, #KEYS do
  out[i - 1] = 0
  if redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[3], 'NX') then
    if #redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i + 2]) > 0 then out[i - 1] = 1 else redis.call('DEL', KEYS[i]) end
  end
end
return out`;
const EXTEND = `for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end return #KEYS`;
const PER_CALL = 500;
const PER_EXTENSION = 5000;

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const lbs = env('LBS');
const group = env('GROUP');
const me = env('ME');
const ttl = env('TTL_MS');
const peers = env('PEERS').split(',').map((name) => ({ name, weight: 1 }));
const redis = new Redis(env('REDIS_URL'));
const sub = new Redis(env('REDIS_URL'));
const prefix = '__keyspace@0__:';
const queue: { lock: string; id: string }[] = [];
const held: string[] = [];
let flushing = false;

const flush = async (): Promise<void> => {
  if (flushing) return;
  flushing = true;
  try {
    while (queue.length > 0) {
      const batch = queue.splice(0, PER_CALL);
      const won = (await redis.eval(CLAIM, batch.length + 1, lbs, ...batch.map((b) => b.lock), group, me, ttl, ...batch.map((b) => b.id))) as number[];
      batch.forEach((b, i) => won[i] === 1 && held.push(b.lock));
    }
  } catch (err) {
    process.stderr.write(`bare claimer ${me}: ${String(err)}\n`);
  } finally {
    flushing = false;
  }
};

sub.on('pmessage', (_pattern: string, channel: string, message: string) => {
  if (message !== 'expired') return;
  const lock = channel.slice(prefix.length);
  const at = lock.indexOf(MUTEX_KEY_SEP);
  if (at < 0) return;
  const id = lock.slice(at + MUTEX_KEY_SEP.length);
  if (rendezvous(id, peers) !== me) return;
  queue.push({ lock, id });
  if (queue.length === 1) setImmediate(() => void flush());
});

setInterval(() => {
  for (let i = 0; i < held.length; i += PER_EXTENSION) {
    const keys = held.slice(i, i + PER_EXTENSION);
    void redis.eval(EXTEND, keys.length, ...keys, ttl);
  }
}, Number(ttl) / 2);

process.on('message', () => process.send?.({ claimed: held.length }));
void sub.psubscribe(`${prefix}*${MUTEX_KEY_SEP}*`).then(() => process.send?.({ ready: true }));
