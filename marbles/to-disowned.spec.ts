import { TestScheduler } from 'rxjs/testing';
import { toDisowned } from '../lib/operators/to-disowned';
import type { StreamDisowned } from '../lib/types';
import { newTestScheduler } from './support/scheduler';

const lostStream = (dataStreamName: string, idInLbs: string, additionalInfo = {}) => ({ payload: { dataStreamName, idInLbs }, additionalInfo });
const disowned = (l: ReturnType<typeof lostStream>): StreamDisowned => ({ type: 'StreamDisowned', payload: l.payload, additionalInfo: l.additionalInfo });

describe('toDisowned', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  const orders = lostStream('orders', '1-0', { tenant: 'acme' });
  const shipments = lostStream('shipments', '4-0');

  it('emits a StreamDisowned, with payload and Info, for a stream lost', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const lost = cold('-a-|', { a: [orders] });
      const subs = '     ^--!';
      const expected = ' -x-|';

      expectObservable(lost.pipe(toDisowned())).toBe(expected, {
        x: { type: 'StreamDisowned', payload: { dataStreamName: 'orders', idInLbs: '1-0' }, additionalInfo: { tenant: 'acme' } },
      });
      expectSubscriptions(lost.subscriptions).toBe(subs);
    });
  });

  it('emits nothing for a tick that lost nothing', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const lost = cold('-e-e-|', { e: [] });
      const subs = '     ^----!';
      const expected = ' -----|';

      expectObservable(lost.pipe(toDisowned())).toBe(expected);
      expectSubscriptions(lost.subscriptions).toBe(subs);
    });
  });

  it('emits one notification per stream lost in a tick, all in that frame and in order', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const lost = cold('-a---b--|', { a: [orders, shipments], b: [shipments] });
      const subs = '     ^-------!';
      const expected = ' -(xy)z--|';

      expectObservable(lost.pipe(toDisowned())).toBe(expected, { x: disowned(orders), y: disowned(shipments), z: disowned(shipments) });
      expectSubscriptions(lost.subscriptions).toBe(subs);
    });
  });

  it('passes an error through and stops', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const lost = cold('-a-#', { a: [orders] }, new Error('NOSCRIPT'));
      const subs = '     ^--!';
      const expected = ' -x-#';

      expectObservable(lost.pipe(toDisowned())).toBe(expected, { x: disowned(orders) }, new Error('NOSCRIPT'));
      expectSubscriptions(lost.subscriptions).toBe(subs);
    });
  });

  it('stops listening when unsubscribed', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const lost = hot('--a--b--c--|', { a: [orders], b: [orders], c: [orders] });
      const subs = '    ^-----!     ';
      const unsub = '   ^-----!     ';
      const expected = '--x--x      ';

      expectObservable(lost.pipe(toDisowned()), unsub).toBe(expected, { x: disowned(orders) });
      expectSubscriptions(lost.subscriptions).toBe(subs);
    });
  });
});
