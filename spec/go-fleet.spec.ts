import { expect } from 'chai';
import type Redis from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { addStream, groupName, lbsKey, lockKey } from '../lib';
import type { LbsInfo } from '../lib';
import { ChildConsumer } from '../support/child';
import { GoTwinChild, GoTwinConfig } from '../support/go-twin-child';
import { hasRedisServer } from '../support/redis-server';
import type { RedisServer } from '../support/redis-server';
import { Consumer, sleep, streamName, useService, waitUntil } from '../support/service';

/**
 * A mixed fleet: this library's consumers beside Go consumers (the Go-behaviour twin,
 * support/go-twin.ts). Both sides run with a 1 s heartbeat here (Go's is a fixed 2 s; the twin
 * takes the interval as a setting only to keep the spec short), so a twin's XCLAIM has min-idle 1 s.
 */
describe('a fleet shared with Go consumers (Go-behaviour twin, private servers)', function () {
  this.timeout(40_000);
  const hb = 1000;
  const t = useService('go-fleet', { defaults: { hbInterval: hb, lbsIdleTime: 60_000 } });
  let server: RedisServer;

  before(function () {
    if (!hasRedisServer()) this.skip();
  });
  beforeEach(async () => {
    server = await t.privateServer();
  });

  const twin = (pod: string, config: Partial<GoTwinConfig> = {}): GoTwinChild => {
    const c = new GoTwinChild({ redisUrl: server.url, service: t.service, pod, hbInterval: hb, lbsIdleTime: 60_000, claim: true, forceConfigOverride: true, ...config });
    t.onTeardown(() => c.kill());
    return c;
  };
  const child = (pod: string): ChildConsumer => {
    const c = new ChildConsumer({ redisUrl: server.url, service: t.service, pod, hbInterval: hb, lbsIdleTime: 60_000, claim: true });
    t.onTeardown(() => c.kill());
    return c;
  };
  /** The consumer an LBS entry is pending for (undefined: none). */
  const pendingFor = async (redis: Redis, id: string): Promise<string | undefined> => {
    const rows = (await redis.xpending(lbsKey(t.service), groupName(t.service), id, id, 1)) as [string, string, number, number][];
    return rows[0]?.[1];
  };
  const add = (i: number, info: Record<string, unknown> = { i }): Promise<string> =>
    lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, i), info }));
  /** One of ours, holding one stream for longer than `heldMs`. */
  const ownerOfOne = async (heldMs: number): Promise<{ owner: Consumer; stream: LbsInfo }> => {
    const owner = t.consumer('ts');
    await sleep(200);
    await add(1);
    await owner.waitFor('StreamAdded', 1);
    await sleep(heldMs);
    return { owner, stream: owner.of('StreamAdded')[0]!.payload };
  };
  const addedOf = (c: Consumer, name: string): number => c.of('StreamAdded').filter((n) => n.payload.dataStreamName === name).length;

  describe('an owned stream is announced once although a Go consumer moves its entry', () => {
    it("keeps a stream whose entry a Go consumer's Claim moved (XCLAIM before the lock check): no second StreamAdded, doneStream finishes it", async () => {
      const { owner, stream } = await ownerOfOne(hb + 200);
      const go = twin('g1');
      await go.waitFor('ready');
      go.claim(stream.dataStreamName, stream.idInLbs);
      const lost = await go.waitFor('claim-lost');
      expect(lost.code).to.equal('LOCK_FAILED');
      expect(await pendingFor(t.admin, stream.idInLbs), 'the XCLAIM moved the entry').to.equal(go.name);
      expect(await t.admin.get(lockKey(stream.dataStreamName, stream.idInLbs))).to.equal(owner.client.id);
      // The entry sits idle under the twin for more than a heartbeat: the reconciler's turns see it.
      await waitUntil(async () => (await pendingFor(t.admin, stream.idInLbs)) === owner.client.id, 5 * hb, 'the entry taken back');
      await sleep(hb);
      expect(addedOf(owner, stream.dataStreamName), 'StreamAdded of the owned stream').to.equal(1);
      expect(owner.of('StreamDisowned')).to.have.length(0);
      await lastValueFrom(owner.client.doneStream(stream.dataStreamName), { defaultValue: undefined });
      expect(await t.admin.xlen(lbsKey(t.service))).to.equal(0);
      expect(await pendingFor(t.admin, stream.idInLbs)).to.equal(undefined);
      expect(await t.admin.exists(lockKey(stream.dataStreamName, stream.idInLbs))).to.equal(0);
    });

    it('finishes with doneStream a stream whose entry is still in a Go consumer\'s pending list (XACK is group-wide)', async () => {
      const { owner, stream } = await ownerOfOne(hb + 200);
      const go = twin('g1');
      await go.waitFor('ready');
      go.claim(stream.dataStreamName, stream.idInLbs);
      await go.waitFor('claim-lost');
      expect(await pendingFor(t.admin, stream.idInLbs)).to.equal(go.name);
      await lastValueFrom(owner.client.doneStream(stream.dataStreamName), { defaultValue: undefined });
      expect(await pendingFor(t.admin, stream.idInLbs), 'nothing pending').to.equal(undefined);
      expect(await t.admin.xlen(lbsKey(t.service))).to.equal(0);
      await sleep(2 * hb);
      expect(addedOf(owner, stream.dataStreamName)).to.equal(1);
    });

    it("keeps a stream whose entry a Go consumer's start-up recovery took (XAUTOCLAIM ignores locks)", async () => {
      const goIdle = 2 * hb;
      const { owner, stream } = await ownerOfOne(goIdle + 300);
      const go = twin('g1', { lbsIdleTime: goIdle });
      await go.waitFor('ready');
      await waitUntil(() => go.of('lib').some((e) => e.message.startsWith('recovering unacked LBS messages')), 5000, 'the twin to give up the recovered entry');
      expect(go.of('added')).to.have.length(0);
      await waitUntil(async () => (await pendingFor(t.admin, stream.idInLbs)) === owner.client.id, 5 * hb, 'the entry taken back');
      await sleep(hb);
      expect(addedOf(owner, stream.dataStreamName), 'StreamAdded of the owned stream').to.equal(1);
      await lastValueFrom(owner.client.doneStream(stream.dataStreamName), { defaultValue: undefined });
      expect(await t.admin.xlen(lbsKey(t.service))).to.equal(0);
    });

    it('keeps a stream claimed from a stalled Go consumer that, once woken, claims it from its buffered expiry event', async () => {
      const go = twin('g1', { forceConfigOverride: false });
      await go.waitFor('ready');
      const ours = t.consumer('ts');
      await sleep(200);
      await add(1);
      const added = await go.waitFor('added');
      go.signal('SIGSTOP');
      await ours.waitFor('StreamExpired', 1, 10_000);
      const claimed = await lastValueFrom(ours.client.claim(ours.of('StreamExpired')[0]!.payload));
      expect(claimed.payload.idInLbs).to.equal(added.id);
      await sleep(hb + 300); // past the twin's XCLAIM min-idle
      go.signal('SIGCONT');
      await go.waitFor('claim-lost', { timeoutMs: 5000 });
      await go.waitFor('disowned', { timeoutMs: 5000 });
      await waitUntil(async () => (await pendingFor(t.admin, added.id)) === ours.client.id, 8 * hb, 'the entry taken back');
      await sleep(hb);
      expect(addedOf(ours, added.stream), 'StreamAdded of the claimed stream').to.equal(0);
      await lastValueFrom(ours.client.doneStream(added.stream), { defaultValue: undefined });
      expect(await t.admin.xlen(lbsKey(t.service))).to.equal(0);
    });
  });

  describe('failover and handoff between the two', () => {
    it('hands the stream of a Go consumer killed with SIGKILL to one of ours', async () => {
      const go = twin('g1', { forceConfigOverride: false });
      await go.waitFor('ready');
      const ours = t.consumer('ts');
      await sleep(200);
      await add(1);
      const added = await go.waitFor('added');
      await sleep(hb + 200);
      await go.kill();
      await ours.waitFor('StreamExpired', 1, 10_000);
      const claimed = await lastValueFrom(ours.client.claim(ours.of('StreamExpired')[0]!.payload));
      // The Go consumer took no fence: our claim is the first take that counts.
      expect(claimed.payload).to.deep.equal({ dataStreamName: added.stream, idInLbs: added.id, fence: 1 });
      expect(claimed.additionalInfo).to.deep.equal({ i: 1 });
      expect(await t.admin.get(lockKey(added.stream, added.id))).to.equal(ours.client.id);
    });

    it('hands the stream of one of ours killed with SIGKILL to a Go consumer', async function (this: Mocha.Context) {
      // The same rare miss as the release spec below: once in a full fleet pass (never in 3 runs
      // alone) the twin heard no expiry within 10 s. The second try runs on a new private server.
      this.retries(1);
      const ours = child('ts');
      await ours.waitFor('ready');
      const go = twin('g1');
      await go.waitFor('ready');
      await sleep(200);
      // The twin reads without COUNT: it may take the stream first; add until one of ours holds one.
      let held: string | undefined;
      for (let i = 1; held === undefined && i <= 20; i++) {
        await add(i);
        await sleep(100);
        held = [...ours.owned()][0];
      }
      expect(held, 'a stream held by ours').to.be.a('string');
      await sleep(hb + 200);
      await ours.kill();
      const claimed = await go.waitFor('claimed', { timeoutMs: 10_000 });
      expect(claimed.stream).to.equal(held);
      expect(await t.admin.get(lockKey(claimed.stream, claimed.id))).to.equal(go.name);
    });

    it('every release() is heard by a Go consumer, which claims the stream', async function (this: Mocha.Context) {
      // About one full fleet pass in five, the twin heard none of the 30 expiries within 10 s (not
      // traced; never alone in 15 runs): the second try runs on a new private server, and the
      // failure's evidence is printed either way.
      this.retries(1);
      const ours = t.consumer('ts');
      await sleep(200);
      const n = 30;
      for (let i = 0; i < n; i++) await add(i);
      await ours.waitFor('StreamAdded', n);
      const go = twin('g1');
      await go.waitFor('ready');
      await Promise.all(ours.of('StreamAdded').map((a) => lastValueFrom(ours.client.release(a.payload.dataStreamName), { defaultValue: undefined })));
      await go.waitFor('claimed', { count: n, timeoutMs: 10_000 }).catch(async (err: Error) => {
        const lost = go.of('claim-lost').map((e) => e.code);
        const locks = ours.of('StreamAdded').map((a) => lockKey(a.payload.dataStreamName, a.payload.idInLbs));
        const [, flags] = (await t.admin.config('GET', 'notify-keyspace-events')) as [string, string];
        const left = await Promise.all(locks.map((k) => t.admin.pttl(k)));
        const subscribers = ((await t.admin.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes('name=go-twin-subscriber')).map((l) => /psub=\d+/.exec(l)?.[0]);
        const evidence = new Error(
          `${err.message}; the twin heard ${go.of('expired').length} expiries, lost ${lost.length} claims (${[...new Set(lost)].join(', ')}); ours heard ${ours.of('StreamExpired').length} expiries; ` +
            `notify-keyspace-events "${flags}"; lock PTTLs ${left.join(' ')}; twin subscribers ${subscribers.join(' ') || 'none'}`,
        );
        console.log(`      ${evidence.message}`);
        throw evidence;
      });
      expect(new Set(go.of('claimed').map((e) => e.stream)).size).to.equal(n);
      expect(go.of('claim-lost')).to.have.length(0);
    });
  });

  describe('what a mixed fleet must know', () => {
    it('a Go consumer refuses to start when notify-keyspace-events is set, unless forced, which sets exactly KEx', async () => {
      t.consumer('ts');
      await sleep(300);
      expect(await t.admin.config('GET', 'notify-keyspace-events')).to.satisfy((r: string[]) => r[1]!.includes('K') && r[1]!.includes('x'));
      const refused = twin('g1', { forceConfigOverride: false });
      expect(await refused.exited()).to.equal(1);
      expect(refused.of('error')[0]!.message).to.include('existing configuration detected without force override option');
      const forced = twin('g2');
      await forced.waitFor('ready');
      const [, flags] = (await t.admin.config('GET', 'notify-keyspace-events')) as [string, string];
      expect([...flags].sort().join('')).to.equal('EKx');
    });

    it('a group a Go consumer created starts at $: entries added before it are never handed out; ours creates it at 0', async () => {
      await t.admin.xadd(lbsKey(t.service), '*', 'lbs-input', JSON.stringify({ DataStreamName: streamName(t.service, 'early'), Info: {} }));
      const go = twin('g1', { forceConfigOverride: false });
      await go.waitFor('ready');
      const ours = t.consumer('ts');
      await sleep(3 * hb);
      expect(go.of('added')).to.have.length(0);
      expect(ours.of('StreamAdded')).to.have.length(0);

      const other = t.anotherService('ours-first');
      await t.admin.xadd(lbsKey(other), '*', 'lbs-input', JSON.stringify({ DataStreamName: streamName(other, 'early'), Info: {} }));
      const first = t.consumer('ts2', {}, { service: other });
      await first.waitFor('StreamAdded', 1);
    });

    it('a Go consumer reads without COUNT: it takes all but one batch of a burst', async () => {
      const ours = t.consumer('ts', { readCount: 10 });
      const go = twin('g1');
      await go.waitFor('ready');
      await sleep(300);
      const burst = t.admin.multi();
      for (let i = 0; i < 60; i++) burst.xadd(lbsKey(t.service), '*', 'lbs-input', JSON.stringify({ DataStreamName: streamName(t.service, i), Info: {} }));
      await burst.exec();
      await waitUntil(() => go.of('added').length + ours.of('StreamAdded').length === 60, 10_000, '60 streams handed out');
      expect(go.of('added').length).to.be.at.least(50);
      expect(ours.of('StreamAdded').length).to.be.at.most(10);
    });

    it("a Go consumer reports other services' lock expiries too; ours only its own service's", async () => {
      const go = twin('g1', { forceConfigOverride: false });
      await go.waitFor('ready');
      const ours = t.consumer('ts');
      await sleep(300);
      const other = t.anotherService('other');
      await t.admin.set(lockKey(streamName(other, 1), '1-1'), 'someone', 'PX', 50);
      await go.waitFor('expired', { timeoutMs: 5000 });
      await sleep(300);
      expect(go.of('expired')[0]!.stream).to.equal(streamName(other, 1));
      expect(ours.of('StreamExpired')).to.have.length(0);
    });
  });
});
