import { expect } from 'chai';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { RawEntry } from '../lib/codecs/lbs-message';
import { RedisCommandError } from '../lib/errors';
import { lockKey } from '../lib/keys';
import { keyspaceExpiries$ } from '../lib/sources/keyspace-expiries';
import type { StreamExpired } from '../lib/types';
import { fakePort, info, messages, raw, specDeps } from './support/deps';
import { newTestScheduler } from './support/scheduler';

const expired = (name: string, id: string, extra = {}): StreamExpired => ({ type: 'StreamExpired', payload: info(name, id), additionalInfo: extra });

describe('keyspaceExpiries$ (StreamExpired from keyspace notifications)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  const setup = (entries: Record<string, Observable<RawEntry | null>>, keys$: Observable<string>) => {
    const looked: string[] = [];
    const dropped: number[] = [];
    const deps = specDeps(testScheduler, fakePort({ entry: (id) => (looked.push(id), entries[id]!) }));
    const metrics = { recordKspNotificationDropped: () => void dropped.push(1) };
    return { deps, looked, dropped, expired$: keyspaceExpiries$({ ...deps, metrics, session: { expiredLockKeys$: keys$ } }) };
  };

  it("reports another consumer's expired lock with the Info of its LBS entry, and never this consumer's own locks", () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const keys$ = hot('-a-b---|', { a: lockKey('mine', '1-0'), b: lockKey('theirs', '2-0') });
      const lookup = cold('-(r|)', { r: raw('2-0', 'theirs', { k: 1 }) });
      const { deps, looked, expired$ } = setup({ '2-0': lookup }, keys$);
      deps.ledger.take(info('mine', '1-0'), {});
      expectObservable(expired$).toBe('----x--|', { x: expired('theirs', '2-0', { k: 1 }) });
      expectSubscriptions(keys$.subscriptions).toBe('^------!');
      expectSubscriptions(lookup.subscriptions).toBe('---^!');
      testScheduler.flush();
      expect(looked).to.deep.equal(['2-0']);
    });
  });

  it('skips the one expiry of a lock this consumer handed back, and reports the next one', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const key = lockKey('back', '3-0');
      const keys$ = hot('-a--a--|', { a: key });
      const { deps, expired$ } = setup({ '3-0': cold('(r|)', { r: raw('3-0', 'back') }) }, keys$);
      deps.ledger.handBack(deps.ledger.take(info('back', '3-0'), {}));
      expectObservable(expired$).toBe('----x--|', { x: expired('back', '3-0') });
      testScheduler.flush();
      expect(deps.ledger.isHandedBack(key)).to.equal(false);
    });
  });

  it('holds an expiry back for the fleet\'s delay, then reads its entry only if the lock is still gone', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const keys$ = hot('-a-b-c---------|', { a: lockKey('designated', '1-0'), b: lockKey('retaken', '2-0'), c: lockKey('gone', '3-0') });
      const gone = cold('-(r|)', { r: raw('3-0', 'gone') });
      const entries: Record<string, Observable<RawEntry | null>> = {
        '1-0': cold('-(r|)', { r: raw('1-0', 'designated') }),
        '2-0': cold('-(r|)', { r: raw('2-0', 'retaken') }),
        '3-0': gone,
      };
      const ttls: Record<string, number> = { [lockKey('retaken', '2-0')]: 1900, [lockKey('gone', '3-0')]: -2 };
      const looked: string[] = [];
      const touched: string[] = [];
      const deps = specDeps(testScheduler, fakePort({ entry: (id) => (looked.push(id), entries[id]!), touchLock: (key) => (touched.push(key), cold('-(t|)', { t: ttls[key]! })) }));
      const fleet = { claimDelay: (name: string) => (name === 'designated' ? 0 : 5), full: () => false };
      const expired$ = keyspaceExpiries$({ ...deps, fleet, scheduler: testScheduler, session: { expiredLockKeys$: keys$ } });
      // designated: read at once (frame 1), reported at 2; gone: held 5, touched (1 frame), read (1 frame): reported at 12.
      expectObservable(expired$).toBe('--x---------y--|', { x: expired('designated', '1-0'), y: expired('gone', '3-0') });
      expectSubscriptions(gone.subscriptions).toBe('-----------^!');
      testScheduler.flush();
      expect(looked).to.deep.equal(['1-0', '3-0']);
      expect(touched).to.deep.equal([lockKey('retaken', '2-0'), lockKey('gone', '3-0')]);
    });
  });

  it('asks the fleet again every heartbeat period while it holds an expiry back, and goes on when the delay shrinks', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const keys$ = hot('-a------------|', { a: lockKey('later', '4-0') });
      const asked: number[] = [];
      const deps = specDeps(testScheduler, fakePort({ entry: () => cold('-(r|)', { r: raw('4-0', 'later') }), touchLock: () => cold('-(t|)', { t: -2 }) }), { hbInterval: 10 });
      // 20 ms at first (the view still counts a dead holder); the next view says go.
      const fleet = { claimDelay: () => (asked.push(testScheduler.now()), asked.length === 1 ? 20 : 0), full: () => false };
      const expired$ = keyspaceExpiries$({ ...deps, fleet, scheduler: testScheduler, session: { expiredLockKeys$: keys$ } });
      expectObservable(expired$).toBe('--------x-----|', { x: expired('later', '4-0') });
      testScheduler.flush();
      expect(asked).to.deep.equal([1, 6]);
    });
  });

  it('holds every expiry back while the heartbeat falls behind, a quarter of a heartbeat at a time, and reports it once it is on time again', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const keys$ = hot('-a-------------|', { a: lockKey('waits', '6-0') });
      const lookup = cold('-(r|)', { r: raw('6-0', 'waits') });
      const deps = specDeps(testScheduler, fakePort({ entry: () => lookup }), { hbInterval: 20 });
      // strained until 8: the expiry heard at 1 waits 5 (a quarter of 20), again at 6, and goes on at 11.
      const locks = { strained: () => testScheduler.now() < 8 };
      const expired$ = keyspaceExpiries$({ ...deps, locks, scheduler: testScheduler, session: { expiredLockKeys$: keys$ } });
      expectObservable(expired$).toBe('------------x--|', { x: expired('waits', '6-0') });
      expectSubscriptions(lookup.subscriptions).toBe('-----------^!');
      testScheduler.flush();
      expect(messages(deps.logs, 'info')).to.deep.equal([
        'heartbeat falling behind: expiries wait before they are claimed',
        'heartbeat on time again: expiries go on',
      ]);
    });
  });

  it('keeps the shortest delay a view gave: a later view may shorten it, not lengthen it', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const keys$ = hot('-a------------|', { a: lockKey('kept', '7-0') });
      const asked: number[] = [];
      const deps = specDeps(testScheduler, fakePort({ entry: () => cold('-(r|)', { r: raw('7-0', 'kept') }), touchLock: () => cold('-(t|)', { t: -2 }) }), { hbInterval: 10 });
      // 6 ms at first (runner-up), 20 at the next look (another view): it still goes on after 6.
      const fleet = { claimDelay: () => (asked.push(testScheduler.now()), asked.length === 1 ? 6 : 20), full: () => false };
      const expired$ = keyspaceExpiries$({ ...deps, fleet, scheduler: testScheduler, session: { expiredLockKeys$: keys$ } });
      // heard at 1, asked again at 6 (a step is at most half a heartbeat) and at 7, when its 6 ms are up:
      // the lock reads gone at 8, the entry is read by 9.
      expectObservable(expired$).toBe('---------x----|', { x: expired('kept', '7-0') });
      testScheduler.flush();
      expect(asked).to.deep.equal([1, 6, 7]);
    });
  });

  it('leaves a stream it waited for to the others while it is full (share + tolerance), and checks again every period', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const keys$ = hot('-a-----------------|', { a: lockKey('full', '5-0') });
      const ttls = [-2, 1900];
      const deps = specDeps(testScheduler, fakePort({ entry: () => cold('-(r|)', { r: raw('5-0', 'full') }), touchLock: () => cold('-(t|)', { t: ttls.shift()! }) }), { hbInterval: 10 });
      const fleet = { claimDelay: () => 5, full: () => true };
      const expired$ = keyspaceExpiries$({ ...deps, fleet, scheduler: testScheduler, session: { expiredLockKeys$: keys$ } });
      // Held 5, the lock still gone at 7 but this consumer full: it looks again at 12 and finds the lock taken.
      expectObservable(expired$).toBe('-------------------|');
      testScheduler.flush();
      expect(ttls).to.deep.equal([]);
    });
  });

  it('reports nothing for keys that are not lock keys, for entries no longer in the LBS, or for an entry of another name (another service)', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const keys$ = hot('-a-b-c-|', { a: 'plain-key', b: lockKey('gone', '4-0'), c: lockKey('elsewhere', '5-0') });
      const { looked, expired$ } = setup({ '4-0': cold('(n|)', { n: null }), '5-0': cold('(r|)', { r: raw('5-0', 'other-name') }) }, keys$);
      expectObservable(expired$).toBe('-------|');
      testScheduler.flush();
      expect(looked).to.deep.equal(['4-0', '5-0']);
    });
  });

  it('counts and logs an expiry whose entry could not be read, and goes on', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const keys$ = hot('-a-b-|', { a: lockKey('x', '6-0'), b: lockKey('y', '7-0') });
      const { deps, dropped, expired$ } = setup({ '6-0': cold('-#'), '7-0': cold('(r|)', { r: raw('7-0', 'y') }) }, keys$);
      expectObservable(expired$).toBe('---y-|', { y: expired('y', '7-0') });
      testScheduler.flush();
      expect(dropped).to.have.length(1);
      expect(messages(deps.logs, 'warn')).to.deep.equal(['could not read the LBS entry of an expired lock']);
    });
  });

  it('errors with a RedisCommandError when the subscription is refused', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const { expired$ } = setup({}, cold('--#', undefined, new Error('NOPERM')));
      expectObservable(expired$).toBe('--#', undefined, new RedisCommandError('Subscribing to keyspace notifications failed: NOPERM'));
    });
  });
});
