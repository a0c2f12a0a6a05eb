import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { addStream } from '../lib';
import { ChildConsumer } from '../support/child';
import { lockKeyIn, locksOf, sharedRedisUrl, sleep, streamName, useService, waitUntil } from '../support/service';

describe('consumers that crash or stall (child processes)', function () {
  this.timeout(60_000);
  const hb = 500;
  const t = useService('crash');

  /** A consumer in a child process that claims every StreamExpired it hears. */
  const child = (name: string): ChildConsumer => {
    const c = new ChildConsumer({ redisUrl: sharedRedisUrl(), service: t.service, pod: name, hbInterval: hb, lbsIdleTime: 60_000, claim: true });
    t.onTeardown(() => c.kill());
    return c;
  };

  /** Two consumers, and `n` streams handed out between them: the one holding one (or more), and the other. */
  const twoSharing = async (n: number): Promise<[ChildConsumer, ChildConsumer]> => {
    const [a, b] = [child('a'), child('b')];
    await Promise.all([a.waitFor('ready'), b.waitFor('ready')]);
    await sleep(1000);
    for (let i = 0; i < n; i++) {
      await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i), info: { i } }));
      await sleep(20);
    }
    await waitUntil(() => a.owned().size + b.owned().size === n, 10_000, `${n} streams handed out`);
    return a.owned().size > 0 ? [a, b] : [b, a];
  };

  it('hands the streams of a consumer killed with SIGKILL to the survivor, within about one heartbeat', async () => {
    const [victim, survivor] = await twoSharing(6);
    const lost = [...victim.owned()];
    const killedAt = Date.now();
    victim.signal('SIGKILL');
    // Taken over by a claim after the expiry, or by the reconciler (an entry with no lock): either way, owned.
    await waitUntil(() => lost.every((name) => survivor.owned().has(name)), 15_000, 'the survivor to own the lost streams');
    const takeovers = [...survivor.of('claimed'), ...survivor.of('added')].filter((e) => lost.includes(e.stream) && e.at > killedAt);
    expect(takeovers.map((e) => e.stream).sort()).to.deep.equal([...lost].sort());
    for (const e of takeovers) expect(e.info).to.deep.equal({ i: Number(e.stream.split('stream-')[1]) });
    const locks = await locksOf(t.admin, t.service);
    expect([...locks.values()]).to.deep.equal(Array(6).fill(survivor.name));
    const failover = Math.max(...takeovers.map((e) => e.at)) - killedAt;
    expect(failover, 'kill-to-claim ms').to.be.lessThan(hb * 10);
  });

  it('tells a consumer stopped past its TTL (SIGSTOP) that it lost its streams when it resumes (SIGCONT)', async () => {
    const [stalled, survivor] = await twoSharing(4);
    const taken = [...stalled.owned()].sort();
    stalled.signal('SIGSTOP');
    await waitUntil(() => taken.every((name) => survivor.owned().has(name)), 15_000, 'the survivor to own the stalled streams');
    stalled.signal('SIGCONT');
    await stalled.waitFor('disowned', { count: taken.length, timeoutMs: 10_000 });
    expect(stalled.of('disowned').map((e) => e.stream).sort()).to.deep.equal(taken);
    expect(stalled.owned().size).to.equal(0);
    await sleep(hb * 2);
    for (const e of [...survivor.of('claimed'), ...survivor.of('added')].filter((x) => taken.includes(x.stream))) {
      expect(await t.admin.get(lockKeyIn(t.service, e.stream, e.id))).to.equal(survivor.name);
    }
  });
});
