import { expect } from 'chai';
import { EMPTY, Observable, Subject, VirtualTimeScheduler, of } from 'rxjs';
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

  it('runs at most stepsPerTurn steps per turn; the rest wait, in order, for the next turn', () => {
    const scheduler = new VirtualTimeScheduler();
    const source = new Subject<string>();
    const ran: string[] = [];
    const out: string[] = [];
    let completed = false;
    source.pipe(mergeWithWaitingRoom((v: string) => (ran.push(v), of(v)), { scheduler, stepsPerTurn: 2 })).subscribe({ next: (v) => out.push(v), complete: () => (completed = true) });
    for (const v of ['a', 'b', 'c', 'd', 'e']) source.next(v);
    source.complete();
    // A burst of five: two steps now, the other three wait as values (the event loop reads its sockets meanwhile).
    expect(ran).to.deep.equal(['a', 'b']);
    expect(completed).to.equal(false);
    scheduler.flush();
    expect(ran).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    expect(out).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    expect(completed).to.equal(true);
  });

  it('counts the steps of released values against the same budget', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const source = hot('-(abc|)', { a: { id: 'a', left: 1 }, b: { id: 'b', left: 1 }, c: { id: 'c', left: 1 } });
      // Held at frame 1 (a and b in the first turn, c in the next) and due at 3: the same two turns again, all at frame 3.
      expectObservable(source.pipe(mergeWithWaitingRoom(countdown(2), { scheduler: testScheduler, stepsPerTurn: 2 }))).toBe('---(abc|)');
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
