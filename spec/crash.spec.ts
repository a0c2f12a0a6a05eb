import { expect } from 'chai';
import Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { addStream, lockKey } from '../lib';
import { ChildConsumer } from '../support/child';
import { cleanup, connect, locksOf, sleep, streamName, uniqueService, waitUntil } from './helpers/fixtures';
import { sharedRedisUrl } from './helpers/hooks';

describe('consumers that crash or stall (child processes)', function () {
  this.timeout(60_000);
  const hb = 500;
  let admin: Redis;
  let service: string;
  const children: ChildConsumer[] = [];

  const child = (name: string): ChildConsumer => {
    const c = new ChildConsumer({ redisUrl: sharedRedisUrl(), service, pod: name, hbInterval: hb, lbsIdleTime: 60_000, claim: true });
    children.push(c);
    return c;
  };

  const addStreams = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await lastValueFrom(addStream(admin, service, { dataStreamName: streamName(service, i), info: { i } }));
      await sleep(20);
    }
  };

  beforeEach(() => {
    admin = connect();
    service = uniqueService('crash');
  });

  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.kill()));
    await cleanup(admin, service);
    admin.disconnect();
  });

  it('hands the streams of a consumer killed with SIGKILL to the survivor, within about one heartbeat', async () => {
    const [a, b] = [child('a'), child('b')];
    await Promise.all([a.waitFor('ready'), b.waitFor('ready')]);
    await sleep(1000);
    await addStreams(6);
    await waitUntil(() => a.owned().size + b.owned().size === 6, 10_000, 'six streams handed out');
    const [victim, survivor] = a.owned().size > 0 ? [a, b] : [b, a];
    const lost = [...victim.owned()];
    const killedAt = Date.now();
    victim.signal('SIGKILL');
    // Taken over by a claim after the expiry, or by the reconciler (an entry with no lock): either way, owned.
    await waitUntil(() => lost.every((name) => survivor.owned().has(name)), 15_000, 'the survivor to own the lost streams');
    const takeovers = [...survivor.of('claimed'), ...survivor.of('added')].filter((e) => lost.includes(e.stream) && e.at > killedAt);
    expect(takeovers.map((e) => e.stream).sort()).to.deep.equal([...lost].sort());
    for (const e of takeovers) expect(e.info).to.deep.equal({ i: Number(e.stream.split('stream-')[1]) });
    const locks = await locksOf(admin, service);
    expect([...locks.values()]).to.deep.equal(Array(6).fill('redis-consumer-' + (survivor === a ? 'a' : 'b')));
    const failover = Math.max(...takeovers.map((e) => e.at)) - killedAt;
    expect(failover, 'kill-to-claim ms').to.be.lessThan(hb * 10);
  });

  it('tells a consumer stopped past its TTL (SIGSTOP) that it lost its streams when it resumes (SIGCONT)', async () => {
    const [a, b] = [child('a'), child('b')];
    await Promise.all([a.waitFor('ready'), b.waitFor('ready')]);
    await sleep(1000);
    await addStreams(4);
    await waitUntil(() => a.owned().size + b.owned().size === 4, 10_000, 'four streams handed out');
    const [stalled, survivor] = a.owned().size > 0 ? [a, b] : [b, a];
    const taken = [...stalled.owned()].sort();
    stalled.signal('SIGSTOP');
    await waitUntil(() => taken.every((name) => survivor.owned().has(name)), 15_000, 'the survivor to own the stalled streams');
    stalled.signal('SIGCONT');
    await stalled.waitFor('disowned', { count: taken.length, timeoutMs: 10_000 });
    expect(stalled.of('disowned').map((e) => e.stream).sort()).to.deep.equal(taken);
    expect(stalled.owned().size).to.equal(0);
    await sleep(hb * 2);
    const survivorName = `redis-consumer-${survivor === a ? 'a' : 'b'}`;
    for (const e of [...survivor.of('claimed'), ...survivor.of('added')].filter((x) => taken.includes(x.stream))) {
      expect(await admin.get(lockKey(e.stream, e.id))).to.equal(survivorName);
    }
  });
});
