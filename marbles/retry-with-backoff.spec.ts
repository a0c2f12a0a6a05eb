import { expect } from 'chai';
import { TestScheduler } from 'rxjs/testing';
import { RetryWithBackoffConfig, retryWithBackoff } from '../lib/operators/retry-with-backoff';
import { attemptsOf, newTestScheduler } from './support/scheduler';

describe('retryWithBackoff', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  const config = (overrides: Partial<RetryWithBackoffConfig>): RetryWithBackoffConfig => ({
    maxRetries: 5,
    initialDelay: 100,
    maxDelay: 30_000,
    scheduler: testScheduler,
    ...overrides,
  });

  it('waits 100, 200, 400 ms, then maxDelay, between resubscriptions', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('#');
      // delays 100, 200, 400, then 500 (maxDelay) instead of 800
      const expectedSubs = ['(^!)', '100ms (^!)', '300ms (^!)', '700ms (^!)', '1200ms (^!)'];
      const expected = '1200ms #';

      expectObservable(source.pipe(retryWithBackoff(config({ maxRetries: 4, initialDelay: 100, maxDelay: 500 })))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(expectedSubs);
    });
  });

  it('lets the error straight through, with no resubscription, when maxRetries is 0', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--a--#', undefined, new Error('boom'));
      const subs = '       ^----!';
      const unsub = '      ^---------!';
      const expected = '   --a--#';

      // (unsub only bounds the test should the source be resubscribed: each attempt emits, which resets the count)
      expectObservable(source.pipe(retryWithBackoff(config({ maxRetries: 0, initialDelay: 1 }))), unsub).toBe(expected, undefined, new Error('boom'));
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('retries maxRetries times, then lets the last error through', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, new Error('read failed'));
      const subs = [
        '                  ^-!',
        '                  -----^-!',
        '                  -------------^-!',
      ];
      const expected = '   ---------------#';

      // delays: 3, then 6
      expectObservable(source.pipe(retryWithBackoff(config({ maxRetries: 2, initialDelay: 3 })))).toBe(expected, undefined, new Error('read failed'));
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('passes values of every attempt through and completes when an attempt completes', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold('-a#');
      const working = cold('   -b|');
      const failingSubs = ' ^-!';
      const workingSubs = ' ---^-!';
      const expected = '    -a--b|';

      expectObservable(attemptsOf([failing, working]).pipe(retryWithBackoff(config({ maxRetries: 1, initialDelay: 1 })))).toBe(expected);
      expectSubscriptions(failing.subscriptions).toBe(failingSubs);
      expectSubscriptions(working.subscriptions).toBe(workingSubs);
    });
  });

  it('retries forever with maxRetries -1: succeeds after 100 failures in a row', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failures = Array.from({ length: 100 }, () => cold('#'));
      const success = cold('a|');
      const attempts: number[] = [];

      // every delay is 1 ms (maxDelay): attempts at 0, 1, 2, ..., 99; success at 100
      const result = attemptsOf([...failures, success]).pipe(
        retryWithBackoff(config({ maxRetries: -1, initialDelay: 1, maxDelay: 1, onRetry: (_, attempt) => attempts.push(attempt) })),
      );
      expectObservable(result, '^ 200ms !').toBe('100ms a|');
      failures.forEach((failure, i) => expectSubscriptions(failure.subscriptions).toBe(`${i}ms (^!)`));
      expectSubscriptions(success.subscriptions).toBe('100ms ^!');
      testScheduler.flush();
      expect(attempts).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
    });
  });

  it('counts only failures in a row: a value resets the count and the delay', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold(' -#');
      const second = cold('   -a-#');
      const third = cold('         -#');
      const fourth = cold('             -b|');
      const firstSubs = '  ^!';
      const secondSubs = ' ---^--!';
      const thirdSubs = '  --------^!';
      const fourthSubs = ' -------------^-!';
      const expected = '   ----a---------b|';

      // delays: 2 (attempt 1), 2 (attempt 1 again after the value), 4 (attempt 2)
      const delays: number[] = [];
      const result = attemptsOf([first, second, third, fourth]).pipe(
        retryWithBackoff(config({ maxRetries: 2, initialDelay: 2, onRetry: (_, __, delayMs) => delays.push(delayMs) })),
      );
      expectObservable(result).toBe(expected);
      expectSubscriptions(first.subscriptions).toBe(firstSubs);
      expectSubscriptions(second.subscriptions).toBe(secondSubs);
      expectSubscriptions(third.subscriptions).toBe(thirdSubs);
      expectSubscriptions(fourth.subscriptions).toBe(fourthSubs);
      testScheduler.flush();
      expect(delays).to.deep.equal([2, 2, 4]);
    });
  });

  it('gives up after maxRetries failures in a row, even if an earlier attempt emitted', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold(' -a#');
      const second = cold('   -#');
      const third = cold(' -a|');
      const firstSubs = '  ^-!';
      const secondSubs = ' ---^!';
      const expected = '   -a--#';

      // the value resets the count; then two failures in a row exceed maxRetries 1
      const result = attemptsOf([first, second, third]).pipe(retryWithBackoff(config({ maxRetries: 1, initialDelay: 1 })));
      expectObservable(result).toBe(expected);
      expectSubscriptions(first.subscriptions).toBe(firstSubs);
      expectSubscriptions(second.subscriptions).toBe(secondSubs);
      expectSubscriptions(third.subscriptions).toBe([]);
    });
  });

  it('runs beforeRetry after the delay and resubscribes only once it completes, ignoring its values', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold(' -#');
      const prepare = cold('   --x|');
      const sourceSubs = [
        '                   ^!',
        '                   ------^!',
      ];
      const prepareSubs = ' ---^--!';
      const expected = '    -------#';

      const errors: unknown[] = [];
      const result = source.pipe(
        retryWithBackoff(
          config({
            maxRetries: 1,
            initialDelay: 2,
            beforeRetry: (err) => {
              errors.push(err);
              return prepare;
            },
          }),
        ),
      );
      expectObservable(result).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
      expectSubscriptions(prepare.subscriptions).toBe(prepareSubs);
      testScheduler.flush();
      expect(errors).to.deep.equal(['error']);
    });
  });

  it('runs beforeRetry before each retry', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('#');
      const prepare = cold('-|');
      const sourceSubs = ['(^!)', '2ms (^!)', '5ms (^!)'];
      const prepareSubs = ['1ms ^!', '4ms ^!'];

      // delays 1 and 2, each followed by a 1 ms beforeRetry
      expectObservable(source.pipe(retryWithBackoff(config({ maxRetries: 2, initialDelay: 1, beforeRetry: () => prepare })))).toBe('5ms #');
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
      expectSubscriptions(prepare.subscriptions).toBe(prepareSubs);
    });
  });

  it('retries anyway when beforeRetry fails, and the output never sees that failure', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('  -#');
      const second = cold('      -a|');
      const prepare = cold('   --#', undefined, new Error('XGROUP CREATE failed'));
      const firstSubs = '   ^!';
      const prepareSubs = ' ---^-!';
      const secondSubs = '  -----^-!';
      const expected = '    ------a|';

      const result = attemptsOf([first, second]).pipe(retryWithBackoff(config({ maxRetries: 1, initialDelay: 2, beforeRetry: () => prepare })));
      expectObservable(result).toBe(expected);
      expectSubscriptions(first.subscriptions).toBe(firstSubs);
      expectSubscriptions(prepare.subscriptions).toBe(prepareSubs);
      expectSubscriptions(second.subscriptions).toBe(secondSubs);
    });
  });

  it('tells onRetry the error, the attempt number and the delay before each retry, not before giving up', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('#', undefined, new Error('down'));
      const calls: [string, number, number][] = [];
      const result = source.pipe(
        retryWithBackoff(
          config({
            maxRetries: 3,
            initialDelay: 100,
            maxDelay: 250,
            onRetry: (err, attempt, delayMs) => calls.push([(err as Error).message, attempt, delayMs]),
          }),
        ),
      );
      expectObservable(result).toBe('550ms #', undefined, new Error('down'));
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '100ms (^!)', '300ms (^!)', '550ms (^!)']);
      testScheduler.flush();
      expect(calls).to.deep.equal([
        ['down', 1, 100],
        ['down', 2, 200],
        ['down', 3, 250],
      ]);
    });
  });

  it('does not resubscribe when unsubscribed during the delay, and tears down beforeRetry', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold(' -#');
      const prepare = cold('   ----|');
      const sourceSubs = '  ^!';
      const prepareSubs = ' ---^--!';
      const unsub = '       ------!';
      const expected = '    ------';

      const result = source.pipe(retryWithBackoff(config({ maxRetries: 3, initialDelay: 2, beforeRetry: () => prepare })));
      expectObservable(result, unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
      expectSubscriptions(prepare.subscriptions).toBe(prepareSubs);
    });
  });

  it('unsubscribes from the source when the subscriber unsubscribes', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-c-d-|');
      const subs = '       ^----!';
      const unsub = '      -----!';
      const expected = '   -a-b-';

      expectObservable(source.pipe(retryWithBackoff(config({}))), unsub).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('uses the scheduler from the config for its delays', () => {
    // Outside run(), only the scheduler in the config can make the delay virtual.
    const source = testScheduler.createColdObservable('#');
    const values: string[] = [];
    let error: unknown;
    source.pipe(retryWithBackoff({ maxRetries: 1, initialDelay: 30, maxDelay: 30, scheduler: testScheduler })).subscribe({
      next: (v) => values.push(v),
      error: (e: unknown) => (error = e),
    });
    expect(error).to.equal(undefined);
    testScheduler.flush();
    expect(error).to.equal('error');
    expect(testScheduler.now()).to.equal(30);
  });
});
