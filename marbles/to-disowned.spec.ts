import { expect } from 'chai';
import { TestScheduler } from 'rxjs/testing';
import { HeartbeatResult, toDisowned } from '../lib/operators/to-disowned';
import { LockStatus } from '../lib/redis/scripts';
import type { StreamDisowned } from '../lib/types';

const result = (dataStreamName: string, idInLbs: string, status: LockStatus, additionalInfo = {}): HeartbeatResult => ({
  payload: { dataStreamName, idInLbs },
  additionalInfo,
  status,
});

const disowned = (r: HeartbeatResult): StreamDisowned => ({ type: 'StreamDisowned', payload: r.payload, additionalInfo: r.additionalInfo });

describe('toDisowned', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => {
      expect(actual).to.deep.equal(expected);
    });
  });

  const lost = result('orders', '1-0', LockStatus.Lost, { tenant: 'acme' });
  const extended = result('invoices', '2-0', LockStatus.Extended);
  const retaken = result('payments', '3-0', LockStatus.Retaken);

  it('emits a StreamDisowned, with payload and Info, for a lock found lost', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const ticks = cold('-a-|', { a: [lost] });
      const subs = '      ^--!';
      const expected = '  -x-|';

      expectObservable(ticks.pipe(toDisowned())).toBe(expected, {
        x: { type: 'StreamDisowned', payload: { dataStreamName: 'orders', idInLbs: '1-0' }, additionalInfo: { tenant: 'acme' } },
      });
      expectSubscriptions(ticks.subscriptions).toBe(subs);
    });
  });

  it('emits nothing for extended and re-taken locks: they are still owned', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const ticks = cold('-a-b-c-|', { a: [extended], b: [retaken], c: [extended, retaken] });
      const subs = '      ^------!';
      const expected = '  -------|';

      expectObservable(ticks.pipe(toDisowned())).toBe(expected);
      expectSubscriptions(ticks.subscriptions).toBe(subs);
    });
  });

  it('emits nothing for a tick with no locks', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const ticks = cold('-e-e-|', { e: [] });
      const subs = '      ^----!';
      const expected = '  -----|';

      expectObservable(ticks.pipe(toDisowned())).toBe(expected);
      expectSubscriptions(ticks.subscriptions).toBe(subs);
    });
  });

  it('emits one notification per lost lock of a tick, all in that frame and in order, skipping the others', () => {
    const lost2 = result('shipments', '4-0', LockStatus.Lost);
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const ticks = cold('-a---b--|', { a: [lost, extended, lost2, retaken], b: [lost2] });
      const subs = '      ^-------!';
      const expected = '  -(xy)z--|';

      expectObservable(ticks.pipe(toDisowned())).toBe(expected, { x: disowned(lost), y: disowned(lost2), z: disowned(lost2) });
      expectSubscriptions(ticks.subscriptions).toBe(subs);
    });
  });

  it('passes a heartbeat error through and stops', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const ticks = cold('-a-#', { a: [lost] }, new Error('NOSCRIPT'));
      const subs = '      ^--!';
      const expected = '  -x-#';

      expectObservable(ticks.pipe(toDisowned())).toBe(expected, { x: disowned(lost) }, new Error('NOSCRIPT'));
      expectSubscriptions(ticks.subscriptions).toBe(subs);
    });
  });

  it('stops listening to heartbeats when unsubscribed', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const ticks = hot('--a--b--c--|', { a: [lost], b: [lost], c: [lost] });
      const subs = '     ^-----!     ';
      const unsub = '    ^-----!     ';
      const expected = ' --x--x      ';

      expectObservable(ticks.pipe(toDisowned()), unsub).toBe(expected, { x: disowned(lost) });
      expectSubscriptions(ticks.subscriptions).toBe(subs);
    });
  });
});
