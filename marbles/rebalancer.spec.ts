import { expect } from 'chai';
import { TestScheduler } from 'rxjs/testing';
import type { FleetView, MemberRecord } from '../lib/rules/balance';
import { rebalancer$ } from '../lib/sources/rebalancer';
import { fakePort, info, specDeps } from './support/deps';
import { newTestScheduler } from './support/scheduler';

const view = (at: number, others: Partial<MemberRecord>[] = []): FleetView => ({
  at,
  live: [],
  settled: new Map(others.map((m) => [m.name!, { name: m.name!, capacity: Infinity, owned: 0, joinedAt: 0, incarnation: 'i', seenAt: at, ...m }])),
  shares: new Map(),
  total: 0,
  steady: true,
});

describe('rebalancer$ (hbInterval 10: hold 50)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  it('hands back the excess, longest held first, announcing each with StreamReleased before its lock is let go', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const expire = cold('(t|)', { t: true });
      const deps = specDeps(testScheduler, fakePort({ expireLock: () => expire, touchLock: () => cold('(g|)', { g: -2 }) }), { rebalance: true });
      deps.ledger.take(info('s1', '1-0'), {});
      deps.ledger.take(info('s2', '2-0'), { k: 2 });
      deps.ledger.take(info('s3', '3-0'), {});
      const views = hot('60ms v', { v: view(60) });
      const fleet = { views$: views, excess: () => 2, view: undefined };
      const released = (name: string, id: string, additionalInfo = {}) => ({ type: 'StreamReleased', payload: info(name, id), reason: 'rebalance', additionalInfo });
      expectObservable(rebalancer$({ ...deps, fleet }), '^ 99ms !').toBe('60ms (ab)', { a: released('s1', '1-0'), b: released('s2', '2-0', { k: 2 }) });
      expectSubscriptions(expire.subscriptions).toBe(['60ms (^!)', '60ms (^!)']);
      testScheduler.flush();
      expect(deps.ledger.all().map((l) => l.payload.dataStreamName)).to.deep.equal(['s3']);
    });
  });

  it('leaves streams that moved here less than the hold time ago, and waits for every member to write its record after a hand-back', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const deps = specDeps(testScheduler, fakePort({ expireLock: () => cold('(t|)', { t: true }), touchLock: () => cold('(g|)', { g: -2 }) }), { rebalance: true });
      deps.ledger.take(info('s1', '1-0'), {}, 0, true);
      const views = hot('30ms a 29ms b 9ms c 9ms d', { a: view(30), b: view(60, [{ name: 'other', seenAt: 50 }]), c: view(70, [{ name: 'other', seenAt: 55 }]), d: view(80, [{ name: 'other', seenAt: 75 }]) });
      testScheduler.schedule(() => deps.ledger.take(info('s2', '2-0'), {}, 0, true), 5);
      const fleet = { views$: views, excess: () => 1, view: undefined };
      // 30: nothing held 50 yet; 60: s1 goes; 70: the other member's record predates the hand-back at 60; 80: fresh, s2 (held since 5) goes.
      expectObservable(rebalancer$({ ...deps, fleet }), '^ 99ms !').toBe('60ms a 19ms b', {
        a: { type: 'StreamReleased', payload: info('s1', '1-0'), reason: 'rebalance', additionalInfo: {} },
        b: { type: 'StreamReleased', payload: info('s2', '2-0'), reason: 'rebalance', additionalInfo: {} },
      });
    });
  });

  it('hands back a stream fresh from the LBS at the first snapshot: it has not moved yet', () => {
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const deps = specDeps(testScheduler, fakePort({ expireLock: () => cold('(t|)', { t: true }), touchLock: () => cold('(g|)', { g: -2 }) }), { rebalance: true });
      deps.ledger.take(info('s1', '1-0'), {}, 0, true);
      deps.ledger.take(info('s2', '2-0'), {});
      const fleet = { views$: hot('30ms a', { a: view(30) }), excess: () => 2, view: undefined };
      // 30: s1 moved here less than 50 ago and stays; s2 came from the LBS and goes.
      expectObservable(rebalancer$({ ...deps, fleet }), '^ 99ms !').toBe('30ms b', {
        b: { type: 'StreamReleased', payload: info('s2', '2-0'), reason: 'rebalance', additionalInfo: {} },
      });
    });
  });

  it("in 'consumed' mode hands back only streams a consumeStream reads, through its hand-over, and announces nothing", () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const deps = specDeps(testScheduler, fakePort({}), { rebalance: 'consumed' });
      deps.ledger.take(info('s1', '1-0'), {});
      deps.ledger.take(info('s2', '2-0'), {});
      const asked: string[] = [];
      const handOver = { isConsuming: (name: string) => name === 's2', handBack: (name: string) => asked.push(name) > 0 };
      const fleet = { views$: hot('60ms v 9ms w', { v: view(60), w: view(70) }), excess: (pending: number) => 2 - pending, view: undefined };
      expectObservable(rebalancer$({ ...deps, fleet, handOver }), '^ 99ms !').toBe('');
      testScheduler.flush();
      expect(asked).to.deep.equal(['s2']);
    });
  });
});
