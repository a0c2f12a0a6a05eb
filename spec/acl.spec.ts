import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../lib';
import { taggedKeyspacePattern, taggedLockKey } from '../lib/keys';
import { hasRedisServer } from '../support/redis-server';
import { Consumer, sleep, streamName, useService, waitUntil } from '../support/service';

/**
 * The minimal ACL of one service in the tagged layout (README, "Access control"): the commands
 * the client sends (directly and from its scripts), its keys `{<service>:*` and its keyspace
 * channel pattern. No CONFIG: `notify-keyspace-events` is set on the server.
 */
const taggedAcl = (service: string): string[] => [
  'on', '>secret', 'resetkeys', 'resetchannels', '-@all',
  // connection: ioredis' ready check, client names
  '+ping', '+info', '+client|setname', '+select',
  // the LBS and its group
  '+xgroup|create', '+xadd', '+xreadgroup', '+xack', '+xdel', '+xrange', '+xpending', '+xclaim',
  // locks, lock sets, deadlines, names, epoch, guards (also inside the scripts)
  '+get', '+set', '+pttl', '+pexpire', '+del', '+sadd', '+srem', '+sscan', '+scard',
  '+zadd', '+zscore', '+zrangebyscore', '+zrem', '+hget', '+hset', '+hmget', '+hdel', '+time',
  '+evalsha', '+eval', '+psubscribe', '+punsubscribe',
  // fences (taken locks), the fleet's membership (written by the heartbeat), lockless checks
  '+incr', '+hgetall', '+exists',
  `~{${service}:*`,
  `&${taggedKeyspacePattern(service, 0)}`,
];

describe('a consumer under the minimal ACL of its service (tagged layout)', function () {
  this.timeout(30_000);
  const t = useService('acl', { start: false });

  it('runs under exactly that ACL, and its credentials cannot touch another service', async function () {
    if (!hasRedisServer()) this.skip();
    await t.privateServer(['--notify-keyspace-events', 'Kxt']);
    const other = t.anotherService('acl-other');
    await t.admin.call('ACL', 'SETUSER', 'svc', ...taggedAcl(t.service));
    const asService = () => t.connect({ username: 'svc', password: 'secret' });

    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_: object, msg?: string) => void warnings.push(msg ?? '') };
    const options = { keyLayout: 'tagged' as const, hbInterval: 300, lbsIdleTime: 3000, logger };
    const a = t.consumer('a', options, { redis: asService() }).start();
    const b = t.consumer('b', options, { redis: asService() }).start();
    await sleep(300);
    const producer = asService();
    for (let i = 0; i < 4; i++) await lastValueFrom(addStream(producer, t.service, { dataStreamName: streamName(t.service, i) }, { keyLayout: 'tagged' }));
    await waitForAdded([a, b], 4);
    // A consumer stopped without done(): its streams expire and the other one claims them.
    const owner = a.of('StreamAdded').length > 0 ? a : b;
    const survivor = owner === a ? b : a;
    owner.stop();
    // Its locks expire: the survivor claims them (StreamExpired), or its reconciler takes them first (an entry with no lock).
    const owned = new Set<string>();
    await waitUntil(async () => {
      for (const n of survivor.of('StreamAdded')) owned.add(n.payload.dataStreamName);
      for (const n of survivor.of('StreamExpired')) {
        if (owned.has(n.payload.dataStreamName)) continue;
        await lastValueFrom(survivor.client.claim(n.payload)).then(() => owned.add(n.payload.dataStreamName), () => undefined);
      }
      return owned.size === 4;
    }, 10_000, 'the survivor to own every stream');
    for (const name of owned) await lastValueFrom(survivor.client.doneStream(name), { defaultValue: undefined });
    expect(await t.admin.xlen(`{${t.service}:0}-input`)).to.equal(0);
    expect(a.error).to.equal(undefined);
    expect(b.error).to.equal(undefined);
    expect(warnings.filter((w) => !w.includes('notify-keyspace-events') && !w.includes('CONFIG'))).to.deep.equal([]);

    // Another service's keys and channels are out of reach of these credentials.
    const foreign = asService();
    const refused = async (p: Promise<unknown>): Promise<string> => p.then(() => 'allowed', (err: Error) => err.message);
    expect(await refused(foreign.get(`{${other}:0}-epoch`))).to.match(/NOPERM/);
    expect(await refused(foreign.set(taggedLockKey(`{${other}:0}`, 's', '1-0'), 'redis-consumer-a'))).to.match(/NOPERM/);
    expect(await refused(foreign.xadd(`{${other}:0}-input`, '*', 'lbs-input', '{}'))).to.match(/NOPERM/);
    expect(await refused(foreign.psubscribe(taggedKeyspacePattern(other, 0)))).to.match(/NOPERM/);
    const intruder = t.consumer('intruder', { keyLayout: 'tagged', hbInterval: 300 }, { redis: asService(), service: other }).start();
    await sleep(500);
    expect((intruder.error as { code?: string } | undefined)?.code).to.equal('REDIS');
  });
});

const waitForAdded = async (consumers: readonly Consumer[], count: number): Promise<void> => {
  const deadline = Date.now() + 5000;
  while (consumers.reduce((n, c) => n + c.of('StreamAdded').length, 0) < count) {
    if (Date.now() > deadline) throw new Error(`${count} streams handed out`);
    await sleep(20);
  }
};
