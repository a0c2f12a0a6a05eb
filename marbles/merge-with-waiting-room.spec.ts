import { expect } from 'chai';
import { EMPTY, Observable, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Hold, mergeWithWaitingRoom } from '../lib/operators/merge-with-waiting-room';
import { newTestScheduler } from './support/scheduler';

describe('mergeWithWaitingRoom (a step may put its value aside for a while)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  /** Counts down `n` (a number) by holding it `ms` per turn; emits it at zero. */
  const countdown = (ms: number) => (n: { id: string; left: number }, hold: Hold<{ id: string; left: number }>): Observable<string> => {
    if (n.left === 0) return of(n.id);
    hold({ id: n.id, left: n.left - 1 }, ms);
    return EMPTY;
  };

  it('runs the step again when a held value is due, and completes once nothing is held', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-|', { a: { id: 'a', left: 2 }, b: { id: 'b', left: 0 } });
      expectObservable(source.pipe(mergeWithWaitingRoom(countdown(3), { scheduler: testScheduler }))).toBe('---b---(a|)');
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('serves every value due at the same time with one action, in the order they were held', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const source = hot('-(abc|)', { a: { id: 'a', left: 1 }, b: { id: 'b', left: 1 }, c: { id: 'c', left: 1 } });
      expectObservable(source.pipe(mergeWithWaitingRoom(countdown(4), { scheduler: testScheduler }))).toBe('-----(abc|)');
    });
  });

  it('starts at most releasedConcurrency steps of released values at once; the others wait as values', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const source = hot('-(ab)-|', { a: 'a', b: 'b' });
      let started = 0;
      const seen = new Set<string>();
      const step = (v: string, hold: Hold<string>): Observable<string> => {
        if (!seen.has(v)) {
          seen.add(v);
          hold(v, 2);
          return EMPTY;
        }
        started++;
        return cold('---(x|)', { x: v });
      };
      expectObservable(source.pipe(mergeWithWaitingRoom(step, { scheduler: testScheduler, releasedConcurrency: 1 }))).toBe('------a--(b|)');
      testScheduler.flush();
      expect(started).to.equal(2);
    });
  });

  it('drops what it holds when unsubscribed', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const source = hot('-a---', { a: { id: 'a', left: 1 } });
      expectObservable(source.pipe(mergeWithWaitingRoom(countdown(5), { scheduler: testScheduler })), '^--!').toBe('----');
    });
  });

  it('errors when a step errors', () => {
    testScheduler.run(({ hot, cold, expectObservable }) => {
      const source = hot('-a-|');
      expectObservable(source.pipe(mergeWithWaitingRoom(() => cold('-#'), { scheduler: testScheduler }))).toBe('--#');
    });
  });
});
