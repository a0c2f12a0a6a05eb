import { expect } from 'chai';
import { take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type Extension, LockStatus } from '../lib/port';
import { LockManager } from '../lib/lease/lock-manager';
import { heartbeat$ } from '../lib/sources/heartbeat';
import type { StreamDisowned } from '../lib/types';
import { fakePort, info, messages, specDeps } from './support/deps';
import { newTestScheduler } from './support/scheduler';

const disowned = (name: string): StreamDisowned => ({ type: 'StreamDisowned', payload: info(name), additionalInfo: {} });
const answer = (...statuses: LockStatus[]): Extension => ({ statuses, epoch: 'e1' });

describe('heartbeat$ (hbInterval 10: a tick every 5, lock TTL 10)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  it('reports a lock held by another consumer at the tick whose extension finds it, and forgets the stream', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const extension = cold('-(a|)', { a: answer(LockStatus.Lost) });
      const deps = specDeps(testScheduler, fakePort({ extendLocks: () => extension }));
      deps.ledger.take(info('s1'), {});
      expectObservable(heartbeat$({ ...deps, periodMs: 5 }).pipe(take(1))).toBe('------(d|)', { d: disowned('s1') });
      expectSubscriptions(extension.subscriptions).toBe('-----^!');
      testScheduler.flush();
      expect(deps.ledger.get('s1')).to.equal(undefined);
    });
  });

  it('keeps extended and re-taken locks, recording when Redis confirmed them and the epoch it has', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const extension = cold('-(a|)', { a: answer(LockStatus.Extended, LockStatus.Retaken) });
      const sent: (readonly string[])[] = [];
      const deps = specDeps(testScheduler, fakePort({ extendLocks: (keys) => (sent.push(keys), extension) }));
      deps.ledger.take(info('s1'), {});
      deps.ledger.take(info('s2', '2-0'), {});
      expectObservable(heartbeat$({ ...deps, periodMs: 5 }), '^-----------!').toBe('-------------');
      expectSubscriptions(extension.subscriptions).toBe(['-----^!', '----------^!']);
      testScheduler.flush();
      expect(deps.ledger.all().map((l) => [l.payload.dataStreamName, l.confirmedAt])).to.deep.equal([['s1', 10], ['s2', 10]]);
      expect(deps.ledger.epoch).to.equal('e1');
      expect(sent[0]).to.deep.equal(['s1<MUTEX_KEY_SEP>1-0', 's2<MUTEX_KEY_SEP>2-0']);
      expect(messages(deps.logs, 'info')).to.include('re-took a lock that had vanished');
    });
  });

  it('skips the extension of a tick while the previous one still runs, so slow Redis never piles up calls', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const extension = cold('----(a|)', { a: answer(LockStatus.Extended) });
      const deps = specDeps(testScheduler, fakePort({ extendLocks: () => extension }));
      deps.ledger.take(info('s1'), {});
      // a tick every 3: the extensions sent at 3, 9 and 15 take 4 each, so the ticks at 6 and 12 send none
      expectObservable(heartbeat$({ ...deps, periodMs: 3 }), '^-------------------!').toBe('---------------------');
      expectSubscriptions(extension.subscriptions).toBe(['---^---!', '---------^---!', '---------------^---!']);
    });
  });

  it('extends a lock taken while a slow extension runs at the next tick, in a call of its own, so a fresh claim never lapses behind it', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const sent: [number, string[]][] = [];
      const port = fakePort({
        extendLocks: (keys) => {
          sent.push([testScheduler.now(), keys.map((k) => k.split('<')[0]!)]);
          return cold('------(a|)', { a: answer(...keys.map(() => LockStatus.Extended)) });
        },
      });
      const deps = specDeps(testScheduler, port);
      deps.ledger.take(info('s1'), {});
      testScheduler.schedule(() => void deps.ledger.take(info('s2', '2-0'), {}), 6);
      // a tick every 5, each extension takes 6: s1 at 5 (answered at 11); s2, taken at 6, at 10
      // while s1's call runs (answered at 16); at 15 s1 again, alone: s2's call still runs.
      expectObservable(heartbeat$({ ...deps, periodMs: 5 }), '^-----------------!').toBe('-------------------');
      testScheduler.flush();
      expect(sent).to.deep.equal([[5, ['s1']], [10, ['s2']], [15, ['s1']]]);
      expect(deps.ledger.all().map((l) => [l.payload.dataStreamName, l.confirmedAt])).to.deep.equal([['s1', 5], ['s2', 10]]);
    });
  });

  it('assumes a stream lost without Redis once its lock has gone unconfirmed for longer than the TTL while extensions hang', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const hanging = cold<Extension>('-');
      const deps = specDeps(testScheduler, fakePort({ extendLocks: () => hanging }));
      deps.ledger.take(info('s1'), {});
      // tick 5: extension sent, hangs; tick 10: skipped, 10 ms since confirmed (not more than the TTL);
      // 15: the extension times out (one TTL), and the verdict drops s1 (15 ms unconfirmed).
      expectObservable(heartbeat$({ ...deps, periodMs: 5 }).pipe(take(1))).toBe('---------------(d|)', { d: disowned('s1') });
      expectSubscriptions(hanging.subscriptions).toBe('-----^---------!');
      testScheduler.flush();
      expect(messages(deps.logs, 'warn')).to.deep.equal([
        'heartbeat failed; retrying at the next tick',
        'Redis has not confirmed these locks for longer than their TTL: assuming the streams lost',
      ]);
    });
  });

  it('keeps the locks Redis answered for and assumes lost only those left unanswered for longer than the TTL (a Cluster node down)', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const partial = cold('-(a|)', { a: { statuses: [LockStatus.Extended, undefined], epoch: 'e1' } satisfies Extension });
      const deps = specDeps(testScheduler, fakePort({ extendLocks: () => partial }));
      deps.ledger.take(info('s1'), {});
      deps.ledger.take(info('s2', '2-0'), {});
      // s1 is confirmed at every tick; s2 (confirmed at 0 by its take) goes unanswered: more than
      // one TTL at the tick at 15, when the verdict drops it.
      expectObservable(heartbeat$({ ...deps, periodMs: 5 }).pipe(take(1))).toBe('---------------(d|)', { d: { ...disowned('s2'), payload: info('s2', '2-0') } });
      testScheduler.flush();
      expect(deps.ledger.all().map((l) => l.payload.dataStreamName)).to.deep.equal(['s1']);
      expect(messages(deps.logs, 'warn')).to.include('heartbeat: Redis did not answer for some locks (a node failed); retrying at the next tick');
    });
  });

  /**
   * One lock, extended by the tick at 5 (answered at 7 with `status`), its stream dropped or
   * handed back at 6 while the extension is in flight: which locks the heartbeat makes expire.
   */
  const expiredAfter = (status: LockStatus, change: 'drop' | 'handBack'): string[] => {
    const expired: string[] = [];
    testScheduler.run(({ cold, expectObservable }) => {
      const extension = cold('--(a|)', { a: answer(status) });
      const expire = cold('-(t|)', { t: true });
      const deps = specDeps(testScheduler, fakePort({ extendLocks: () => extension, expireLock: (key) => (expired.push(`${key}@${testScheduler.now()}`), expire) }));
      const lease = deps.ledger.take(info('s1'), {});
      testScheduler.schedule(() => deps.ledger[change](lease), 6);
      expectObservable(heartbeat$({ ...deps, periodMs: 5 }), '^--------!').toBe('----------');
    });
    return expired;
  };

  it('lets a lock expire at once when its stream was dropped while the extension that kept it alive was in flight', () => {
    expect(expiredAfter(LockStatus.Extended, 'drop')).to.deep.equal(['s1<MUTEX_KEY_SEP>1-0@7']);
  });

  it('leaves a handed-back lock to release(), which makes it expire itself', () => {
    expect(expiredAfter(LockStatus.Extended, 'handBack')).to.deep.equal([]);
  });

  it('hands back again a lock that an extension in flight re-took after release() let it expire', () => {
    expect(expiredAfter(LockStatus.Retaken, 'handBack')).to.deep.equal(['s1<MUTEX_KEY_SEP>1-0@7']);
  });

  it('records each tick that sent extensions: how many locks, whether Redis answered, and how long it took', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const answers = [cold('--(a|)', { a: answer(LockStatus.Extended, LockStatus.Extended) }), cold<Extension>('-')];
      const port = fakePort({ extendLocks: () => answers.shift()! });
      const deps = specDeps(testScheduler, port);
      const ticks: [number, boolean, number][] = [];
      const locks = new LockManager({ ledger: deps.ledger, port, ttl: 10, scheduler: testScheduler, log: deps.log, metrics: { recordHeartbeat: (n, ok, ms) => void ticks.push([n, ok, ms]) } });
      deps.ledger.take(info('s1'), {});
      deps.ledger.take(info('s2', '2-0'), {});
      // tick 5: answered after 2; tick 10: hangs until its timeout (one TTL) at 20, when the verdict
      // also gives both streams up (13 ms unconfirmed); tick 15 skipped.
      expectObservable(heartbeat$({ ...deps, locks, periodMs: 5 }), '^--------------------!').toBe('--------------------(dD)', { d: disowned('s1'), D: { ...disowned('s2'), payload: info('s2', '2-0') } });
      testScheduler.flush();
      expect(ticks).to.deep.equal([
        [2, true, 2],
        [2, false, 10],
      ]);
    });
  });

  it('is strained while an extension is unanswered, or the latest was answered, later than three quarters of a period', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      // tick 5: answered after 2 (on time); tick 10: after 4 (late: strained from 13.75 while in flight, and after it until the next answer); tick 15: after 1.
      const answers = [cold('--(a|)', { a: answer(LockStatus.Extended) }), cold('----(a|)', { a: answer(LockStatus.Extended) }), cold('-(a|)', { a: answer(LockStatus.Extended) })];
      const port = fakePort({ extendLocks: () => answers.shift()! });
      const deps = specDeps(testScheduler, port);
      const locks = new LockManager({ ledger: deps.ledger, port, ttl: 10, scheduler: testScheduler, log: deps.log, metrics: {} });
      deps.ledger.take(info('s1'), {});
      const seen: [number, boolean][] = [];
      for (const at of [6, 13, 14, 15, 16, 17]) testScheduler.schedule(() => void seen.push([at, locks.strained()]), at);
      expectObservable(heartbeat$({ ...deps, locks, periodMs: 5 }), '^-----------------!').toBe('-------------------');
      testScheduler.flush();
      expect(seen).to.deep.equal([[6, false], [13, false], [14, true], [15, true], [16, true], [17, false]]);
    });
  });

  it('is strained no more once the heartbeat has been behind for 5 TTLs in a row: a slow link, not a burst, and claims go on', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      // every extension answered after 4 (more than 3/4 of a period, less than a period): behind from the first answer, at 9
      const port = fakePort({ extendLocks: () => cold('----(a|)', { a: answer(LockStatus.Extended) }) });
      const deps = specDeps(testScheduler, port);
      const locks = new LockManager({ ledger: deps.ledger, port, ttl: 10, scheduler: testScheduler, log: deps.log, metrics: {} });
      deps.ledger.take(info('s1'), {});
      const seen: [number, boolean][] = [];
      for (const at of [8, 10, 30, 58, 59, 70]) testScheduler.schedule(() => void seen.push([at, locks.strained()]), at);
      expectObservable(heartbeat$({ ...deps, locks, periodMs: 5 }), '^' + '-'.repeat(70) + '!').toBe('-'.repeat(72));
      testScheduler.flush();
      // behind from 9 on, first seen so at 10: strained until 60
      expect(seen).to.deep.equal([[8, false], [10, true], [30, true], [58, true], [59, true], [70, false]]);
      expect(messages(deps.logs, 'warn')).to.deep.equal(['heartbeat behind for 5 TTLs in a row: a slow link, not a burst; claiming again']);
      expect(deps.ledger.size, 'the stream kept').to.equal(1);
    });
  });

  it('sends nothing to Redis while it owns nothing', () => {
    testScheduler.run(({ expectObservable }) => {
      const deps = specDeps(testScheduler, fakePort({}));
      expectObservable(heartbeat$({ ...deps, periodMs: 5 }), '^--------------!').toBe('----------------');
    });
  });
});
