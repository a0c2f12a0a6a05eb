import { expect } from 'chai';
import { Observable, defer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';

/** A TestScheduler whose assertions are chai deep equality: every marble spec uses it. */
export const newTestScheduler = (): TestScheduler =>
  new TestScheduler((actual, expected) => {
    expect(actual).to.deep.equal(expected);
  });

/**
 * One Observable per subscription, in order: lets each attempt (a retried read, a repeated tick)
 * have its own marble and its own subscription log. Subscribing more often than prepared errors.
 */
export const attemptsOf = <T>(attempts: readonly Observable<T>[]): Observable<T> => {
  let next = 0;
  return defer(() => {
    const attempt = attempts[next++];
    if (attempt === undefined) throw new Error(`subscribed ${next} times; only ${attempts.length} attempts were prepared`);
    return attempt;
  });
};
