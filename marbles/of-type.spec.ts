import { expect } from 'chai';
import { OperatorFunction, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { ofType } from '../lib/operators/of-type';
import type { Notification, OwnershipNotification, StreamAdded, StreamClaimed, StreamDisowned, StreamExpired } from '../lib/types';
import { newTestScheduler } from './support/scheduler';

const added: StreamAdded = { type: 'StreamAdded', payload: { dataStreamName: 'a', idInLbs: '1-0', fence: 1 }, additionalInfo: { k: 1 } };
const expired: StreamExpired = { type: 'StreamExpired', payload: { dataStreamName: 'b', idInLbs: '2-0' } };
const disowned: StreamDisowned = { type: 'StreamDisowned', payload: { dataStreamName: 'c', idInLbs: '3-0' } };
const claimed: StreamClaimed = { type: 'StreamClaimed', payload: { dataStreamName: 'b', idInLbs: '2-0', fence: 1 }, additionalInfo: {} };
const values: Record<string, Notification> = { a: added, e: expired, d: disowned };
const ownershipValues: Record<string, OwnershipNotification> = { ...values, c: claimed };

describe('ofType', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  it('lets through only the notifications of the given type, in their frames', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const notifications = cold<Notification>('-a-e-d-e-a-|', values);
      const subs = '                            ^----------!';
      const expected = '                        ---e---e---|';

      expectObservable(notifications.pipe(ofType('StreamExpired'))).toBe(expected, values);
      expectSubscriptions(notifications.subscriptions).toBe(subs);
    });
  });

  it('lets through every one of several types', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const notifications = cold<Notification>('-a-e-d-e-a-|', values);
      const subs = '                            ^----------!';
      const expected = '                        -a---d---a-|';

      expectObservable(notifications.pipe(ofType('StreamAdded', 'StreamDisowned'))).toBe(expected, values);
      expectSubscriptions(notifications.subscriptions).toBe(subs);
    });
  });

  it('works on what claimExpired emits too: picks StreamClaimed out of ownership notifications', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const notifications = cold<OwnershipNotification>('-e-c-a-c-|', ownershipValues);
      const subs = '                                     ^--------!';
      const expected = '                                 ---c---c-|';

      expectObservable(notifications.pipe(ofType('StreamClaimed'))).toBe(expected, ownershipValues);
      expectSubscriptions(notifications.subscriptions).toBe(subs);
    });
  });

  it('narrows the type: fields of the chosen notification type are typed', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const notifications = cold<Notification>('-e-a-|', values);
      const subs = '                            ^----!';
      const expected = '                        ---k-|';

      // additionalInfo is required on StreamAdded only: this compiles because ofType narrowed the type
      const infoOfAdded = notifications.pipe(
        ofType('StreamAdded'),
        map((n: StreamAdded) => n.additionalInfo),
      );
      expectObservable(infoOfAdded).toBe(expected, { k: { k: 1 } });
      expectSubscriptions(notifications.subscriptions).toBe(subs);
    });
  });

  it('accepts only notification type names, and at least one (checked by tsc)', () => {
    // @ts-expect-error 'StreamRemoved' is not a notification type
    ofType('StreamRemoved');
    // @ts-expect-error at least one type is required
    ofType();
    // @ts-expect-error a StreamExpired is not a StreamAdded: the output type follows the type asked for
    const wrong: OperatorFunction<Notification, StreamAdded> = ofType('StreamExpired');
    const right: OperatorFunction<Notification, StreamAdded | StreamDisowned> = ofType('StreamAdded', 'StreamDisowned');
    expect(wrong).to.be.a('function');
    expect(right).to.be.a('function');
  });

  it('passes errors through and unsubscribes from the source', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const notifications = cold<Notification>('-a-e-#', values, new Error('CLIENT_CLOSED'));
      const subs = '                            ^----!';
      const expected = '                        ---e-#';

      expectObservable(notifications.pipe(ofType('StreamExpired'))).toBe(expected, values, new Error('CLIENT_CLOSED'));
      expectSubscriptions(notifications.subscriptions).toBe(subs);
    });
  });

  it('unsubscribes from the source when its subscriber does', () => {
    testScheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const notifications = hot<Notification>('-a-e-d-e-|', values);
      const subs = '                           ^----!    ';
      const unsub = '                          ^----!    ';
      const expected = '                       ---e-     ';

      expectObservable(notifications.pipe(ofType('StreamExpired')), unsub).toBe(expected, values);
      expectSubscriptions(notifications.subscriptions).toBe(subs);
    });
  });
});
