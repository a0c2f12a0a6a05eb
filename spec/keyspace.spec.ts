import { expect } from 'chai';
import { lastValueFrom } from 'rxjs';
import { addStream, lockKey } from '../lib';
import type { Logger } from '../lib';
import { hasRedisServer } from '../support/redis-server';
import { Consumer, locksOf, sleep, streamName, waitUntil, useService } from '../support/service';

describe('keyspace notifications', () => {
  const hbInterval = 300;
  const t = useService('ksp', { defaults: { hbInterval, lbsIdleTime: 60_000 } });

  const listenOnly = { rebalance: false, reconcileInterval: 60_000 } as const;
  /** Connections of this library subscribed to a pattern (its keyspace subscribers). */
  const patternSubscribers = async (): Promise<number> =>
    ((await t.admin.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes('name=rscrx-subscriber') && /\bpsub=[1-9]/.test(l)).length;

  it('tells every other live consumer of the service when a lock expires, with the Info', async () => {
    const owner = t.consumer('owner');
    await sleep(150);
    await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: streamName(t.service, 1), info: { a: 1 } }));
    await owner.waitFor('StreamAdded', 1);
    const before = await patternSubscribers();
    // Watchers that hear only: no balance (one that is not the stream's designated claimer holds
    // the expiry back, and drops it once the lock exists again) and no reconciler (a watcher whose
    // reconciler took the lockless entry first owns the stream, and reports no expiry of it).
    const watchers = [t.consumer('w1', listenOnly), t.consumer('w2', listenOnly)];
    await waitUntil(async () => (await patternSubscribers()) >= before + 2, 5000, 'both watchers subscribed');
    owner.stop();
    for (const w of watchers) await w.waitFor('StreamExpired', 1, 5000);
    for (const w of watchers) {
      const { dataStreamName, idInLbs } = owner.of('StreamAdded')[0]!.payload;
      expect(w.of('StreamExpired')[0]).to.deep.equal({ type: 'StreamExpired', payload: { dataStreamName, idInLbs }, additionalInfo: { a: 1 } });
    }
  });

  it("never reports another service's expiring locks", async () => {
    const otherService = t.anotherService('ksp-other');
    const watcher = t.consumer('w', listenOnly);
    const foreign = t.consumer('foreign-owner', {}, { service: otherService });
    await sleep(150);
    await lastValueFrom(addStream(t.admin, otherService, { dataStreamName: streamName(otherService, 1) }));
    await foreign.waitFor('StreamAdded', 1);
    const before = await patternSubscribers();
    const other = t.consumer('other-watcher', listenOnly, { service: otherService });
    // Its subscription in place before the lock expires (a loaded machine took longer than 150 ms).
    await waitUntil(async () => (await patternSubscribers()) > before, 5000, 'the other watcher subscribed');
    foreign.stop();
    await other.waitFor('StreamExpired', 1, 5000);
    await sleep(200);
    expect(watcher.of('StreamExpired')).to.have.length(0);
  });

  it('moves 2000 streams of 5 departed consumers (of 10) to the 5 survivors, each stream held by exactly one', async function () {
    this.timeout(60_000);
    const fleet = [...Array(10).keys()].map((i) => t.consumer(`c${i}`, { readCount: 50, hbInterval: 1000 }));
    await sleep(300);
    const pipeline = t.admin.pipeline();
    for (let i = 0; i < 2000; i++) pipeline.xadd(`${t.service}-input`, '*', 'lbs-input', JSON.stringify({ DataStreamName: streamName(t.service, i), Info: { i } }));
    await pipeline.exec();
    await waitUntil(() => fleet.reduce((n, c) => n + c.of('StreamAdded').length, 0) >= 2000, 20_000, '2000 streams handed out');
    const handedOut = fleet.flatMap((c) => c.of('StreamAdded').map((n) => n.payload.dataStreamName));
    expect(new Set(handedOut).size).to.equal(2000);
    const departed = fleet.slice(0, 5);
    const survivors = fleet.slice(5);
    departed.forEach((c) => c.stop());
    const claimed = new Map(survivors.map((s) => [s, [] as { name: string; at: number }[]]));
    const seen = new Map(survivors.map((s) => [s, 0]));
    /** What a survivor believes it owns: streams handed to it (also by recovery) or claimed, minus disowned. */
    const ownedBy = (s: Consumer): Set<string> => {
      const names = new Set(s.of('StreamAdded').map((n) => n.payload.dataStreamName));
      for (const c of claimed.get(s)!) names.add(c.name);
      for (const n of s.of('StreamDisowned')) names.delete(n.payload.dataStreamName);
      return names;
    };
    const claimAll = async (): Promise<void> => {
      await Promise.all(
        survivors.map(async (s) => {
          const expired = s.of('StreamExpired').slice(seen.get(s));
          seen.set(s, seen.get(s)! + expired.length);
          for (const n of expired) {
            await lastValueFrom(s.client.claim(n.payload)).then(
              () => claimed.get(s)!.push({ name: n.payload.dataStreamName, at: Date.now() }),
              () => undefined,
            );
          }
        }),
      );
    };
    const owned = () => new Map(survivors.map((s) => [s, ownedBy(s)]));
    await waitUntil(
      async () => {
        await claimAll();
        return [...owned().values()].reduce((n, set) => n + set.size, 0) >= 2000;
      },
      40_000,
      'every stream owned by a survivor',
    );
    await sleep(1500);
    await claimAll();
    const locks = await locksOf(t.admin, t.service);
    expect(locks.size).to.equal(2000);
    for (const [s, names] of owned()) {
      const held = [...locks].filter(([, holder]) => holder === s.client.id).map(([key]) => key.split('<MUTEX_KEY_SEP>')[0]);
      expect(new Set(held), `${s.client.id} holds exactly what it believes it owns`).to.deep.equal(names);
    }
  });

  describe('notify-keyspace-events (private server)', () => {
    before(function () {
      if (!hasRedisServer()) this.skip();
    });

    const flagsOf = async (): Promise<string> => ((await t.admin.config('GET', 'notify-keyspace-events')) as string[])[1]!;

    it("adds K and x to the flags already set, keeping another application's flags", async () => {
      await t.privateServer(['--notify-keyspace-events', 'Eg']);
      const c = t.consumer('a');
      await sleep(200);
      const flags = await flagsOf();
      for (const f of 'EgKx') expect(flags, flags).to.include(f);
      expect(c.error).to.equal(undefined);
    });

    it('replaces the flags with Kx when forceConfigOverride is set', async () => {
      await t.privateServer(['--notify-keyspace-events', 'Eg']);
      t.consumer('a', { forceConfigOverride: true });
      await sleep(300);
      expect([...(await flagsOf())].sort().join('')).to.equal('Kx');
    });

    it('warns with KEYSPACE_CONFIG_CONFLICT when CONFIG is refused, and goes on serving streams', async () => {
      await t.privateServer(['--rename-command', 'CONFIG', '']);
      const warnings: { obj: { err?: { code?: string } }; msg?: string }[] = [];
      const logger: Logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (obj, msg) => void warnings.push({ obj, msg }) };
      const c = t.consumer('a', { logger });
      await sleep(200);
      await lastValueFrom(addStream(t.admin, t.service, { dataStreamName: 'still-served' }));
      await c.waitFor('StreamAdded', 1);
      expect(warnings.map((w) => w.obj.err?.code)).to.include('KEYSPACE_CONFIG_CONFLICT');
      expect(c.error).to.equal(undefined);
    });

    it("listens on the connection's own db, not db 0", async () => {
      await t.privateServer();
      const owner = t.consumer('owner', {}, { redis: t.connect({ db: 5 }) });
      const watcher = t.consumer('watcher', {}, { redis: t.connect({ db: 5 }) });
      await sleep(200);
      const redis = t.connect({ db: 5 });
      await lastValueFrom(addStream(redis, t.service, { dataStreamName: 'in-db-5' }));
      await waitUntil(() => owner.of('StreamAdded').length + watcher.of('StreamAdded').length === 1, 3000, 'hand-out');
      const [holder, other] = owner.of('StreamAdded').length === 1 ? [owner, watcher] : [watcher, owner];
      const { payload } = holder.of('StreamAdded')[0]!;
      holder.stop();
      await other.waitFor('StreamExpired', 1, 5000);
      expect(other.of('StreamExpired')[0]!.payload).to.deep.equal({ dataStreamName: payload.dataStreamName, idInLbs: payload.idInLbs });
      expect(await redis.exists(lockKey(payload.dataStreamName, payload.idInLbs))).to.equal(0);
    });
  });
});
