import { expect } from 'chai';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { AlreadyClaimedError, RedisCommandError } from '../lib/errors';
import { claimExpired } from '../lib/operators/claim-expired';
import type { Claimed, LbsInfo, Notification, OwnershipNotification } from '../lib/types';
import { newTestScheduler } from './support/scheduler';

const info = (name: string): LbsInfo => ({ dataStreamName: name, idInLbs: `${name}-0` });
const added: Notification = { type: 'StreamAdded', payload: { ...info('a'), fence: 1 }, additionalInfo: {} };
const expiredB: Notification = { type: 'StreamExpired', payload: info('b'), additionalInfo: { k: 1 } };
const expiredC: Notification = { type: 'StreamExpired', payload: info('c') };
const disowned: Notification = { type: 'StreamDisowned', payload: info('d') };
const claimedB: OwnershipNotification = { type: 'StreamClaimed', payload: { ...info('b'), fence: 1 }, additionalInfo: { k: 1 } };

describe('claimExpired', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  it('emits StreamClaimed for a won claim and passes other notifications through', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<Notification>('  -a--b--d--|', { a: added, b: expiredB, d: disowned });
      const claim = cold<Claimed>('         --(w|)', { w: { payload: { ...info('b'), fence: 1 }, additionalInfo: { k: 1 } } });
      const expected = '                  -a----wd--|';
      expectObservable(source.pipe(claimExpired({ claim: () => claim }))).toBe(expected, { a: added, w: claimedB, d: disowned });
      expectSubscriptions(source.subscriptions).toBe('^---------!');
      expectSubscriptions(claim.subscriptions).toBe('----^-!');
    });
  });

  it('drops a lost race silently and keeps going', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot<Notification>('  -b--c--|', { b: expiredB, c: expiredC });
      const lost = cold<Claimed>('          -#', undefined, new AlreadyClaimedError('b', 'b-0'));
      const won = cold<Claimed>('           -(w|)', { w: { payload: { ...info('c'), fence: 1 }, additionalInfo: {} } });
      const claims: Record<string, Observable<Claimed>> = { b: lost, c: won };
      const expected = '                  -----w-|';
      expectObservable(source.pipe(claimExpired({ claim: (i) => claims[i.dataStreamName]! }))).toBe(expected, {
        w: { type: 'StreamClaimed', payload: { ...info('c'), fence: 1 }, additionalInfo: {} },
      });
      expectSubscriptions(source.subscriptions).toBe('^------!');
      expectSubscriptions(lost.subscriptions).toBe(' -^!');
      expectSubscriptions(won.subscriptions).toBe('  ----^!');
    });
  });

  it('reports other claim failures to onError without ending the stream', () => {
    testScheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const failure = new RedisCommandError('down');
      const source = hot<Notification>('  -b--a--|', { b: expiredB, a: added });
      const claim = cold<Claimed>('         -#', undefined, failure);
      const errors: unknown[] = [];
      const expected = '                  ----a--|';
      expectObservable(source.pipe(claimExpired({ claim: () => claim }, { onError: (e) => errors.push(e) }))).toBe(expected, { a: added });
      expectSubscriptions(source.subscriptions).toBe('^------!');
      expectSubscriptions(claim.subscriptions).toBe(' -^!');
      testScheduler.flush();
      expect(errors).to.deep.equal([failure]);
    });
  });
});
