import { expect } from 'chai';
import type { Cluster } from 'ioredis';
import { Subscription, lastValueFrom } from 'rxjs';
import { MUTEX_KEY_SEP, RedisStreamClient, addStream, claimExpired } from '../../lib';
import type { Notification, OwnershipNotification } from '../../lib';
import { globEscape } from '../../lib/keys';
import { resolveLayout } from '../../lib/layout';
import { parseMembers } from '../../lib/redis/script-args';
import type { MemberRecord } from '../../lib/rules/balance';
import type { RedisServer } from '../../support/redis-server';
import { useLocalCluster } from '../helpers/local-cluster';
import { sleep, streamName, uniqueService, waitUntil } from '../../support/service';

/** The largest distance of one value from the mean of all, as a fraction of the mean. */
const spread = (xs: readonly number[]): number => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.max(...xs.map((x) => Math.abs(x - mean) / mean));
};

/**
 * One service on a 3-primary Cluster made by `redis-cli --cluster create` (its default slot
 * ranges): its default 3 partitions land on the 3 primaries, so its locks and its heartbeat's
 * work spread over them; and its fleet's membership registry is written there, so consumers
 * balance the streams among themselves.
 */
describe('a service spread over a 3-primary Cluster', function () {
  this.timeout(60_000);
  const local = useLocalCluster();
  const opened: Cluster[] = [];
  const running: Subscription[] = [];

  afterEach(() => {
    running.splice(0).forEach((s) => s.unsubscribe());
    opened.splice(0).forEach((c) => c.disconnect());
  });

  const connect = (): Cluster => {
    const c = local.cluster.connect();
    opened.push(c);
    return c;
  };

  /** `count` streams of `service`, added 100 at a time. */
  const addStreams = async (service: string, count: number): Promise<string[]> => {
    const producer = connect();
    const names = [...Array(count).keys()].map((i) => streamName(service, i));
    for (let i = 0; i < count; i += 100) await Promise.all(names.slice(i, i + 100).map((name) => lastValueFrom(addStream(producer, service, { dataStreamName: name }))));
    return names;
  };

  /** The number of keys matching `pattern` on each primary. */
  const keysPerPrimary = async (primaries: readonly RedisServer[], pattern: string): Promise<number[]> =>
    Promise.all(
      primaries.map(async (node) => {
        const conn = local.cluster.connectNode(node);
        try {
          let cursor = '0';
          let n = 0;
          do {
            const [next, batch] = await conn.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
            cursor = next;
            n += batch.length;
          } while (cursor !== '0');
          return n;
        } finally {
          conn.disconnect();
        }
      }),
    );

  it('puts the 3 default partitions of every service on the 3 primaries', async () => {
    for (let i = 0; i < 20; i++) {
      const layout = resolveLayout(uniqueService('spread'), true, {});
      const owners = new Set<number>();
      for (let p = 0; p < 3; p++) owners.add((await local.cluster.primaryOf(layout.keysOf(p).lbs)).port);
      expect(owners.size, `the partitions of service ${i}`).to.equal(3);
    }
  });

  it("spreads one consumer's locks and its heartbeat's work evenly over the primaries", async () => {
    const service = uniqueService('spread');
    const hbInterval = 1000;
    const client = new RedisStreamClient(connect(), service, { consumerId: 'holder', hbInterval, lbsIdleTime: 60_000, readCount: 500 });
    let owned = 0;
    running.push(client.init().subscribe((n: Notification) => n.type === 'StreamAdded' && owned++));
    const names = await addStreams(service, 1500);
    await waitUntil(() => owned === names.length, 20_000, () => `every stream handed out (${owned} of ${names.length})`);
    const primaries = await local.cluster.primaries();
    const locks = await keysPerPrimary(primaries, `{${globEscape(service)}:*${MUTEX_KEY_SEP}*`);
    expect(locks.reduce((a, b) => a + b, 0)).to.equal(names.length);
    expect(spread(locks), `locks per primary ${locks.join(' / ')}`).to.be.at.most(0.2);

    // Redis's own time in the scripts (INFO commandstats, µs), per primary, over a few heartbeats.
    const conns = primaries.map((node) => local.cluster.connectNode(node));
    try {
      await Promise.all(conns.map((c) => c.config('RESETSTAT')));
      await sleep(4 * hbInterval);
      const usec = await Promise.all(conns.map(async (c) => Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await c.info('commandstats'))?.[1] ?? 0)));
      console.log(`      ${names.length} locks: ${locks.join(' / ')} per primary; heartbeat scripts ${usec.join(' / ')} µs per primary in ${4 * hbInterval} ms (spread ${(100 * spread(usec)).toFixed(0)}%)`);
      // Two partitions on one primary would make this 100% (one primary idle); the machine's noise stays well under half.
      expect(spread(usec), `script time per primary ${usec.join(' / ')} µs`).to.be.below(0.5);
    } finally {
      conns.forEach((c) => c.disconnect());
    }
  });

  it('writes the members of the fleet in one registry on the Cluster, so a consumer that joins gets its share', async () => {
    const service = uniqueService('members');
    const options = { hbInterval: 500, lbsIdleTime: 10_000, rebalance: true } as const;
    const owned = { a: new Set<string>(), b: new Set<string>() };
    const start = (id: 'a' | 'b'): void => {
      const client = new RedisStreamClient(connect(), service, { consumerId: id, ...options });
      running.push(
        client.init().pipe(claimExpired(client)).subscribe((n: OwnershipNotification) => {
          if (n.type === 'StreamAdded' || n.type === 'StreamClaimed') owned[id].add(n.payload.dataStreamName);
          else if (n.type === 'StreamReleased' || n.type === 'StreamDisowned') owned[id].delete(n.payload.dataStreamName);
        }),
      );
    };
    start('a');
    const names = await addStreams(service, 60);
    await waitUntil(() => owned.a.size === names.length, 10_000, () => `a to own every stream (${owned.a.size})`);
    start('b');
    await waitUntil(() => owned.b.size >= 25 && owned.a.size <= 35, 20_000, () => `the streams shared out (a ${owned.a.size}, b ${owned.b.size})`);
    const admin = connect();
    const registry = resolveLayout(service, true, {}).keysOf(0).members;
    const members = async (): Promise<MemberRecord[]> => parseMembers(Object.entries(await admin.hgetall(registry)).flat());
    // Each record counts its owner's streams at its last heartbeat: a stream between two owners is in neither for a moment.
    let total = 0;
    await waitUntil(async () => (total = (await members()).reduce((k, m) => k + m.owned, 0)) === names.length, 5000, () => `the records to add up to every stream (${total})`);
    expect((await members()).map((m) => m.name).sort()).to.deep.equal(['redis-consumer-a', 'redis-consumer-b']);
  });
});
