import { expect } from 'chai';
import { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { lockReaper$ } from '../lib/sources/lock-reaper';
import { fakePort, messages, specDeps } from './support/deps';
import { attemptsOf, newTestScheduler } from './support/scheduler';

describe('lockReaper$ (reapInterval 5)', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = newTestScheduler();
  });

  const setup = (turns: Observable<readonly string[]>[], touches: Record<string, Observable<number>>) => {
    const turn = attemptsOf(turns);
    const deps = specDeps(testScheduler, fakePort({ overdueConsumers: () => turn, touchLocksOf: (c) => touches[c]! }), { reapInterval: 5 });
    return { deps, reaper$: lockReaper$(deps) };
  };

  it("touches the locks of every consumer the interval's turn lists as overdue, all at once, and emits nothing", () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const turns = [cold('-(o|)', { o: ['c1', 'c2'] }), cold('-(n|)', { n: [] })];
      const touches = { c1: cold('--(n|)', { n: 3 }), c2: cold('-(n|)', { n: 0 }) };
      const { reaper$ } = setup(turns, touches);
      expectObservable(reaper$, '^-----------!').toBe('-------------');
      expectSubscriptions(turns[0]!.subscriptions).toBe('-----^!');
      expectSubscriptions(touches.c1.subscriptions).toBe('------^-!');
      expectSubscriptions(touches.c2.subscriptions).toBe('------^!');
      expectSubscriptions(turns[1]!.subscriptions).toBe('----------^!');
    });
  });

  it('skips a turn while the previous reap still runs', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const turns = [cold('-(o|)', { o: ['c1'] }), cold('-(n|)', { n: [] })];
      const touches = { c1: cold('-------(n|)', { n: 1 }) };
      const { reaper$ } = setup(turns, touches);
      expectObservable(reaper$, '^-----------------!').toBe('-------------------');
      expectSubscriptions(touches.c1.subscriptions).toBe('------^------!');
      expectSubscriptions(turns[1]!.subscriptions).toBe('---------------^!');
    });
  });

  it('logs a failed reap and reaps again at the next interval', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const turns = [cold<readonly string[]>('-#'), cold('-(n|)', { n: [] })];
      const { deps, reaper$ } = setup(turns, {});
      expectObservable(reaper$, '^-----------!').toBe('-------------');
      expectSubscriptions(turns[1]!.subscriptions).toBe('----------^!');
      testScheduler.flush();
      expect(messages(deps.logs, 'warn')).to.deep.equal(['reaping overdue locks failed; retrying at the next interval']);
    });
  });
});
